#include <priava_tokend/api/connection_socket.hpp>

#include <unistd.h>

namespace priava_tokend {

boost::system::error_code connection_socket::adopt(int fd) {
    boost::system::error_code ec;
    assign(net::local::stream_protocol(), fd, ec);
    if (ec) {
        ::close(fd);
        return ec;
    }
    namespace ops = boost::asio::detail::socket_ops;
    auto& state = impl_.get_implementation().state_;
    state = static_cast<ops::state_type>((state & ~ops::possible_dup) | ops::non_blocking);
    return ec;
}

} // namespace priava_tokend
