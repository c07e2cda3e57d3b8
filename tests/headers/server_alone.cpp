// A service written with one include, as a newcomer would: <aio/http/server.hpp> must bring
// aio::run, aio::sleep, aio::create_task and aio::timeout (tests/headers/CMakeLists.txt).
#include <aio/http/server.hpp>

#include <cstdio>

using namespace std::chrono_literals;

int main() {
    return aio::run([] {
        aio::http::application app;
        app.add_get("/", [](aio::http::request&) { return aio::http::response::text("hi"); });
        aio::http::app_runner runner(app);
        runner.start("127.0.0.1", 0);
        // Three clients over raw streams (client.hpp is not included on purpose).
        std::vector<aio::task<std::string>> clients;
        for (int i = 0; i < 3; ++i) {
            clients.push_back(aio::create_task([&runner] {
                aio::stream s = aio::open_connection("127.0.0.1", runner.port());
                s.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                std::string head = s.read_until("\r\n\r\n");
                s.close();
                return head;
            }));
        }
        for (auto& c : clients) {
            if (c.get().rfind("HTTP/1.1 200", 0) != 0) {
                return 1;
            }
        }
        // A periodic job that the timeout ends.
        int ticks = 0;
        try {
            aio::timeout(30ms, [&] {
                for (;;) {
                    aio::sleep(5ms);
                    ++ticks;
                }
            });
        } catch (const aio::timeout_error&) {
        }
        std::uint64_t handled = runner.requests_handled();
        runner.cleanup();
        std::printf("served %llu requests, %d ticks before the timeout\n",
                    static_cast<unsigned long long>(handled), ticks);
        return handled == 3 && ticks > 0 ? 0 : 2;
    });
}
