// The replay of a fuzz target without libFuzzer (tests/fuzz/CMakeLists.txt, docs/fuzzing.md): every
// regular file of each directory on the command line, in name order, is given to the target's
// LLVMFuzzerTestOneInput once. A crash, sanitizer report, abort or escaping exception fails the
// ctest entry; a missing directory counts as empty (a target with no regression yet).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    size_t inputs = 0;
    for (int a = 1; a < argc; ++a) {
        const fs::path dir = argv[a];
        if (!fs::is_directory(dir)) continue;
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(dir))
            if (entry.is_regular_file()) files.push_back(entry.path());
        std::sort(files.begin(), files.end());
        for (const fs::path& file : files) {
            std::ifstream in(file, std::ios::binary);
            std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            if (!in.eof() && in.fail()) {
                std::fprintf(stderr, "replay: cannot read %s\n", file.c_str());
                return 1;
            }
            std::fprintf(stderr, "replay: %s (%zu bytes)\n", file.c_str(), bytes.size());
            LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
            ++inputs;
        }
    }
    std::printf("replay: %zu inputs, no crash\n", inputs);
    return inputs == 0 ? 1 : 0;  // a target with neither seeds nor regressions is a mistake
}
