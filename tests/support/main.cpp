#define CATCH_CONFIG_MAIN
#include <aio/errors.hpp>

#include <catch2/catch.hpp>

// cancelled_error is not a std::exception on purpose; teach Catch2 to print it.
CATCH_TRANSLATE_EXCEPTION(const aio::cancelled_error& e) {
    return "aio::cancelled_error: " + e.message();
}
