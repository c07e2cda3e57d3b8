// expect: aio::to_thread(read_file, path), not aio::to_thread(read_file(path))
// to_thread(read_file(path)) would read the file on the loop thread, then hand a string over.
#include <aio/executor.hpp>

#include <string>

std::string read_file(const std::string& path) {
    return path;
}

void caller() {
    std::string path = "/etc/hostname";
    auto text = aio::to_thread(read_file(path));
}
