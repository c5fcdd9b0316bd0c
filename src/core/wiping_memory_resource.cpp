#include <priava_tokend/core/wiping_memory_resource.hpp>

#include <openssl/crypto.h>

#include <new>

namespace priava_tokend {
namespace {

/// Beyond this, operator new must be told the alignment, and operator delete alike.
bool over_aligned(std::size_t alignment) noexcept {
    return alignment > __STDCPP_DEFAULT_NEW_ALIGNMENT__;
}

} // namespace

wiping_memory_resource& wiping_memory_resource::instance() noexcept {
    static wiping_memory_resource resource;
    return resource;
}

void* wiping_memory_resource::do_allocate(std::size_t bytes, std::size_t alignment) {
    if (over_aligned(alignment)) {
        return ::operator new (bytes, std::align_val_t{alignment});
    }
    return ::operator new(bytes);
}

void wiping_memory_resource::do_deallocate(void* p, std::size_t bytes, std::size_t alignment) {
    OPENSSL_cleanse(p, bytes);
    give_back(p, bytes, alignment);
}

void wiping_memory_resource::give_back(void* p, std::size_t /*bytes*/,
                                       std::size_t alignment) noexcept {
    // Unsized deletes: clang wants -fsized-deallocation for the sized ones.
    if (over_aligned(alignment)) {
        ::operator delete (p, std::align_val_t{alignment});
    } else {
        ::operator delete(p);
    }
}

} // namespace priava_tokend
