#pragma once

#include <boost/container/pmr/memory_resource.hpp>

#include <cstddef>

namespace priava_tokend {

/// Memory for text that may hold a token, a refresh token or a code (parsed JSON: Priava's
/// replies, the state file, etcd's records): every block is wiped before it goes back to the
/// allocator, so a later reader of the heap (or a core dump, were one allowed) finds nothing.
class wiping_memory_resource : public boost::container::pmr::memory_resource {
  public:
    /// The process's one instance, for `boost::json::storage_ptr`.
    static wiping_memory_resource& instance() noexcept;

  protected:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override;
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override;
    bool do_is_equal(const memory_resource& other) const noexcept override {
        return this == &other;
    }
    /// Frees a block already wiped (a test sees the block here before it is freed).
    virtual void give_back(void* p, std::size_t bytes, std::size_t alignment) noexcept;
};

} // namespace priava_tokend
