#include <priava_tokend/cli/token_request_command.hpp>
#include <priava_tokend/keeper/delegated_write.hpp>
#include <priava_tokend/priava/token_request_process.hpp>

namespace priava_tokend {

int token_request_command(std::istream& in, std::ostream& out, std::ostream& err) {
    return run_token_request(in, out, err, [](const secret& order, const token_outcome& result) {
        return perform_delegated_write(order.reveal(), result, token_request_lock_fd);
    });
}

} // namespace priava_tokend
