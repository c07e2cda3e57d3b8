// How debug mode tells the user's frames from aio's and the libraries' (debug/src/stacks.cpp).
// The installed-package side is tests/package/debug_lines.sh.
#include "stacks.hpp"

#include <catch2/catch.hpp>

#include <string>

using aio::debug::frame;
using aio::debug::frame_origin;
using aio::debug::origin_of;

namespace {

frame at(std::string file, std::string function = "f()") {
    frame f;
    f.file = std::move(file);
    f.function = std::move(function);
    f.line = 10;
    return f;
}

}  // namespace

TEST_CASE("aio's headers are aio's wherever they were installed, vendored or linked", "[stacks]") {
    CHECK(origin_of(at("/work/aio/runtime/include/aio/task.hpp")) == frame_origin::aio);
    CHECK(origin_of(at("/opt/aio/include/aio/task.hpp")) == frame_origin::aio);
    CHECK(origin_of(at("/home/u/app/third_party/aio/include/aio/detail/task_base.hpp")) ==
          frame_origin::aio);
    CHECK(origin_of(at("/usr/local/include/aio/debug/config.hpp")) == frame_origin::aio);
    // As an include spelled it: "../loop_core.hpp" from runtime/src/net/stream.cpp.
    CHECK(origin_of(at("/work/aio/runtime/src/net/../loop_core.hpp")) == frame_origin::aio);
    CHECK(origin_of(at("/home/u/app/src/../src/./main.cpp")) == frame_origin::user);
    CHECK(origin_of(at("aio/run.hpp")) == frame_origin::aio);
    CHECK(origin_of(at("/build/vendor/aio/runtime/src/loop.cpp")) == frame_origin::aio);
    CHECK(origin_of(at("/build/vendor/aio/debug/src/session.cpp")) == frame_origin::aio);
}

TEST_CASE("a user's file that only looks like aio's is the user's", "[stacks]") {
    CHECK(origin_of(at("/home/u/app/myaio/task.hpp")) == frame_origin::user);
    CHECK(origin_of(at("/home/u/app/aio/handlers.hpp")) == frame_origin::user);
    CHECK(origin_of(at("/home/u/app/runtime/src/worker.cpp")) == frame_origin::user);
    CHECK(origin_of(at("/home/u/app/main.cpp", "main::{lambda()#1}::operator()() const")) ==
          frame_origin::user);
}

TEST_CASE("a function is aio's by its namespace, not by the type it returns", "[stacks]") {
    CHECK(origin_of(at("", "aio::task<int> aio::create_task<main::{lambda()#1}>("
                           "main::{lambda()#1}&&)")) == frame_origin::aio);
    CHECK(origin_of(at("", "aio::detail::(anonymous namespace)::call_link::~call_link()")) ==
          frame_origin::aio);
    CHECK(origin_of(at("/home/u/app/fetch.cpp", "aio::task<int> fetch(int)")) ==
          frame_origin::user);
    CHECK(origin_of(at("", "std::vector<aio::task<int>> spawn_all(int)")) == frame_origin::user);
}

TEST_CASE("the C and C++ libraries' frames are the libraries'", "[stacks]") {
    CHECK(origin_of(at("./nptl/pthread_mutex_lock.c", "lll_mutex_lock_optimized")) ==
          frame_origin::library);
    CHECK(origin_of(at("../sysdeps/unix/sysv/linux/read.c", "__libc_read")) ==
          frame_origin::library);
    CHECK(origin_of(at("bits/unistd.h", "read")) == frame_origin::library);
    CHECK(origin_of(at("/usr/include/x86_64-linux-gnu/bits/unistd.h", "read")) ==
          frame_origin::library);
    CHECK(origin_of(at("/usr/include/c++/12/bits/std_mutex.h", "lock")) == frame_origin::library);
    CHECK(origin_of(at("", "std::mutex::lock()")) == frame_origin::library);
    CHECK(origin_of(at("", "")) == frame_origin::library);
}
