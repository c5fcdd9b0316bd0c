// Boost.URL compiled into the core library (header-only mode), so the binary needs no
// libboost_url at run time.
#include <boost/url/src.hpp>
