#include <priava_tokend/core/wiping_memory_resource.hpp>

#include <openssl/crypto.h>

#include <new>

namespace priava_tokend {

wiping_memory_resource& wiping_memory_resource::instance() noexcept {
    static wiping_memory_resource resource;
    return resource;
}

void* wiping_memory_resource::do_allocate(std::size_t bytes, std::size_t alignment) {
    return ::operator new (bytes, std::align_val_t{alignment});
}

void wiping_memory_resource::do_deallocate(void* p, std::size_t bytes, std::size_t alignment) {
    OPENSSL_cleanse(p, bytes);
    give_back(p, bytes, alignment);
}

void wiping_memory_resource::give_back(void* p, std::size_t bytes, std::size_t alignment) noexcept {
    ::operator delete (p, bytes, std::align_val_t{alignment});
}

} // namespace priava_tokend
