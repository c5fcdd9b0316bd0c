#include <priava_tokend/core/process_privacy.hpp>

#include <openssl/crypto.h>

#include <cstdlib>
#include <cstring>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace priava_tokend {

void forbid_core_dumps() noexcept {
    const rlimit none{0, 0};
    ::setrlimit(RLIMIT_CORE, &none);
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

void wipe_environment_variable(const char* name) noexcept {
    const std::size_t length = std::strlen(name);
    char* found[8] = {};
    std::size_t count = 0;
    for (char** entry = ::environ; entry != nullptr && *entry != nullptr && count < 8; ++entry) {
        if (std::strncmp(*entry, name, length) == 0 && (*entry)[length] == '=') {
            found[count++] = *entry;
        }
    }
    ::unsetenv(name); // takes the entries out of environ; their bytes stay where they were
    for (std::size_t i = 0; i < count; ++i) {
        OPENSSL_cleanse(found[i], std::strlen(found[i]));
    }
}

} // namespace priava_tokend
