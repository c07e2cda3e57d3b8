// aio's server in the TCP echo benchmark (tools/bench/echo): aio::start_server with one task
// per connection, reading into a stack buffer and writing back what came.
//
// Usage: aio_echo_aio [--host 127.0.0.1] [--port 0]
// The first line on stdout is the bound port. Runs until Ctrl-C (aio::run turns SIGINT into
// cancellation) or SIGTERM (the default action).
#include <aio/aio.hpp>
#include <aio/server.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--host") == 0) {
            host = argv[i + 1];
        } else if (std::strcmp(argv[i], "--port") == 0) {
            port = std::atoi(argv[i + 1]);
        } else {
            std::fprintf(stderr, "usage: aio_echo_aio [--host H] [--port P]\n");
            return 2;
        }
    }
    try {
        aio::run([&] {
            auto srv = aio::start_server(
                [](aio::stream& s) {
                    std::array<char, 16 * 1024> buf;
                    s.set_read_timeout(aio::no_timeout);  // benchmark clients may idle
                    while (std::size_t n = s.read_into(buf)) {
                        s.write({buf.data(), n});
                    }
                },
                host, static_cast<std::uint16_t>(port));
            std::printf("%u\n", srv.port());
            std::fflush(stdout);
            srv.serve_forever();
        });
    } catch (const aio::interrupted_error&) {
    }
    return 0;
}
