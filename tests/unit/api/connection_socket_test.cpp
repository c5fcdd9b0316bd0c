#include <priava_tokend/api/connection_socket.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

TEST(ConnectionSocket, AdoptsANonBlockingDescriptorWithoutChangingIt) {
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair), 0);
    net::io_context io;
    connection_socket socket(io);
    ASSERT_FALSE(socket.adopt(pair[0]));
    // Asio knows the descriptor is non-blocking (it will not ioctl it), and it is.
    EXPECT_TRUE(socket.native_non_blocking());
    EXPECT_TRUE(socket.non_blocking());
    EXPECT_NE(::fcntl(pair[0], F_GETFL) & O_NONBLOCK, 0);
    // Synchronous operations do not wait.
    char nothing[4];
    boost::system::error_code would_block;
    EXPECT_EQ(socket.read_some(net::buffer(nothing), would_block), 0u);
    EXPECT_EQ(would_block, net::error::would_block);

    // It works as a socket: a round trip through Asio's asynchronous operations.
    ASSERT_EQ(::write(pair[1], "ping", 4), 4);
    std::string got(4, '\0');
    net::async_read(socket, net::buffer(got),
                    [](boost::system::error_code ec, std::size_t) { EXPECT_FALSE(ec); });
    net::async_write(socket, net::buffer(std::string_view("pong")),
                     [](boost::system::error_code ec, std::size_t) { EXPECT_FALSE(ec); });
    io.run_for(std::chrono::seconds{5});
    EXPECT_EQ(got, "ping");
    char reply[4] = {};
    EXPECT_EQ(::read(pair[1], reply, sizeof reply), 4);
    EXPECT_EQ(std::string_view(reply, 4), "pong");

    // Closing it ends the stream for the peer.
    socket.close();
    EXPECT_EQ(::read(pair[1], reply, sizeof reply), 0);
    ::close(pair[1]);
}

} // namespace
} // namespace priava_tokend
