// Compiled with the core part's include roots only: it must not find a header of a higher part.
// tests/layout/CMakeLists.txt expects this file to fail to compile, and fails if it does not.
#include <priava_tokend/keeper/token_keeper.hpp>

int main() {
    return 0;
}
