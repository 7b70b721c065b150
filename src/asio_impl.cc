// The one translation unit that compiles Asio and Beast (see
// BOOST_ASIO_SEPARATE_COMPILATION in the top-level CMakeLists.txt). Every
// other file includes only their declarations, which keeps rebuilds fast.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
