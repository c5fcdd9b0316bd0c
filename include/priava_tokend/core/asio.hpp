#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace priava_tokend {

namespace net = boost::asio;

/// The completion token of every coroutine I/O call: outcomes come back as `error_code`s in a
/// tuple; exceptions are reserved for bugs.
inline constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

} // namespace priava_tokend
