// The main of a fuzz harness built without libFuzzer (default, asan and other presets): runs
// LLVMFuzzerTestOneInput once on every file named on the command line, and on every file of
// every directory named, in name order. It names each input before running it; a finding
// aborts, as it does under libFuzzer, so the ctest test that runs this over a directory of
// tests/fuzz/corpus/ fails on it. This is how the corpus is replayed in every CI run, gcc
// builds included.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
        return 2;
    }
    std::vector<fs::path> inputs;
    for (int i = 1; i < argc; ++i) {
        fs::path arg(argv[i]);
        if (fs::is_directory(arg)) {
            std::vector<fs::path> found;
            for (const auto& e : fs::directory_iterator(arg)) {
                if (e.is_regular_file()) {
                    found.push_back(e.path());
                }
            }
            std::sort(found.begin(), found.end());
            inputs.insert(inputs.end(), found.begin(), found.end());
        } else if (fs::is_regular_file(arg)) {
            inputs.push_back(arg);
        } else {
            std::fprintf(stderr, "%s: no such file or directory: %s\n", argv[0], argv[i]);
            return 2;
        }
    }
    if (inputs.empty()) {
        std::fprintf(stderr, "%s: no inputs found\n", argv[0]);
        return 2;
    }
    auto start = std::chrono::steady_clock::now();
    for (const auto& p : inputs) {
        std::string data = read_file(p);
        // A finding aborts inside the call: name the input first.
        std::fprintf(stderr, "%s (%zu bytes)\n", p.filename().c_str(), data.size());
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    std::fprintf(stderr, "%zu inputs replayed in %lld ms, no finding\n", inputs.size(),
                 static_cast<long long>(ms));
    return 0;
}
