#include <aio/aio.hpp>
#include <aio/http/server.hpp>  // brings <nlohmann/json.hpp>: the package config finds it

#include <cstdio>
using namespace std::chrono_literals;
int main() {
    int v = aio::run([] {
        auto t = aio::create_task([] {
            aio::sleep(1ms);
            return 41;
        });
        return t.get() + 1;
    });
    auto r = aio::http::response::json({{"answer", v}});
    std::printf("%d\n", r.body() == R"({"answer":42})" ? v : -1);
}
