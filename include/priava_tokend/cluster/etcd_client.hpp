#pragma once

#include <priava_tokend/core/asio.hpp>
#include <priava_tokend/core/duration.hpp>
#include <priava_tokend/core/error.hpp>
#include <priava_tokend/core/etcd_endpoint.hpp>
#include <priava_tokend/core/secret.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace priava_tokend {

/// A key and its value as etcd holds them, with the revisions a fence compares.
struct etcd_kv {
    std::string key;
    std::string value;
    std::int64_t create_revision = 0;
    std::int64_t mod_revision = 0;
    std::int64_t lease = 0;
};

/// One condition of a transaction; every condition compares for equality.
struct etcd_compare {
    enum class field { create_revision, mod_revision, value };
    std::string key;
    field what = field::mod_revision;
    std::int64_t revision = 0; ///< for the revisions: 0 means "the key does not exist"
    std::string value;         ///< for `value`
};

/// A put or a delete in a transaction's success branch.
struct etcd_write {
    std::string key;
    std::optional<std::string> value; ///< nothing: delete the key
    std::int64_t lease = 0;
};

struct etcd_txn_result {
    bool succeeded = false;
    std::int64_t revision = 0; ///< the store's revision after the transaction
};

/// How to reach etcd: the members' client URLs, TLS and authentication.
struct etcd_options {
    std::vector<etcd_endpoint> endpoints;
    std::shared_ptr<net::ssl::context> tls; ///< for `https://` endpoints
    std::optional<std::string> username;
    secret password;
    milliseconds call_timeout{2'000};
};

/// A client of etcd's v3 JSON gateway (`/v3/kv/range`, `/v3/kv/txn`, `/v3/lease/*`,
/// `/v3/watch`) over HTTP/1.1 with kept-alive connections. Calls go to the member that last
/// answered; a member that does not answer within `call_timeout` is left for the next one, so a
/// call may take up to one timeout per member. Failures name the member and what went wrong,
/// never a value. Single-threaded: every call on the executor it was made with.
class etcd_client {
  public:
    etcd_client(net::any_io_executor ex, etcd_options options);
    ~etcd_client();
    etcd_client(const etcd_client&) = delete;
    etcd_client& operator=(const etcd_client&) = delete;

    /// A linearizable read of one key; nothing when it does not exist.
    net::awaitable<outcome<std::optional<etcd_kv>>> get(const std::string& key);

    /// Applies `writes` if every comparison holds. Never repeated on another member once sent:
    /// after a lost connection the caller cannot know whether it applied.
    net::awaitable<outcome<etcd_txn_result>> txn(const std::vector<etcd_compare>& compares,
                                                 const std::vector<etcd_write>& writes);

    /// A new lease of `ttl`; its id.
    net::awaitable<outcome<std::int64_t>> grant_lease(std::chrono::seconds ttl);
    /// Renews the lease; the TTL it has now, zero when it had already expired.
    net::awaitable<outcome<std::chrono::seconds>> keep_alive(std::int64_t lease);
    net::awaitable<outcome<void>> revoke_lease(std::int64_t lease);

    /// Waits for the next change of `key` after `after_revision`, at most `wait`: the key as it
    /// is then (nothing when deleted), or nothing at all when the wait ended quietly.
    struct change {
        std::optional<etcd_kv> kv;
        std::int64_t revision = 0;
    };
    net::awaitable<outcome<std::optional<change>>>
    watch_once(const std::string& key, std::int64_t after_revision, milliseconds wait);

    /// Ends a `watch_once` in progress at once (it returns nothing).
    void cancel_watch();

    /// The member calls go to now, for log lines and status.
    const std::string& current_endpoint() const;

    /// Closes every connection; calls in flight end with an error.
    void close();

  private:
    struct connection;
    net::awaitable<outcome<boost::json::value>> call(std::string_view path,
                                                     const boost::json::value& body,
                                                     bool may_repeat, milliseconds timeout);
    net::awaitable<outcome<boost::json::value>>
    call_on(connection& c, std::string_view path, const std::string& body, milliseconds timeout);
    using steady_deadline = std::chrono::steady_clock::time_point;
    /// Connects (and authenticates) `c` to its member.
    net::awaitable<outcome<void>> open(connection& c, steady_deadline until, bool with_auth);
    net::awaitable<outcome<void>> authenticate(connection& c);

    net::any_io_executor ex_;
    etcd_options options_;
    std::size_t current_ = 0;
    std::string auth_token_;
    std::vector<std::unique_ptr<connection>> idle_;
    connection* watching_ = nullptr;
};

} // namespace priava_tokend
