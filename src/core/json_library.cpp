// Boost.JSON compiled into the core library (header-only mode), so the binary needs no
// libboost_json at run time.
#include <boost/json/src.hpp>
