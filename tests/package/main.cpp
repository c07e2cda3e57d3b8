#include <aio/aio.hpp>

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
    std::printf("%d\n", v);
}
