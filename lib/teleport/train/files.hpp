// teleport/train/files.hpp — writing results so that an interrupted run never leaves half a file:
// a file is written to a temporary name in its folder and renamed into place, output folders are
// created with their parents, and a JSON library error becomes one short line. The checkpoint
// (train/checkpoint.hpp) and the drivers' output (CSV, summary.json, figures) use them.
#pragma once

#include <filesystem>
#include <fstream>
#include <ios>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include <unistd.h>

#include <nlohmann/json.hpp>

namespace teleport {

/// Write `content` to `path` so that the file is either absent, the previous version, or complete:
/// the text goes to a temporary file in the same folder (".NAME.tmpPID"), which is then renamed
/// over `path`.
inline void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
    namespace fs = std::filesystem;
    const fs::path temporary =
        path.parent_path() / ("." + path.filename().string() + ".tmp" + std::to_string(::getpid()));
    std::error_code ignored;
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out) throw std::runtime_error("cannot write " + temporary.string());
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        out.close();
        if (!out) {
            fs::remove(temporary, ignored);
            throw std::runtime_error("writing " + path.string() + " failed");
        }
    }
    std::error_code ec;
    fs::rename(temporary, path, ec);
    if (ec) {
        fs::remove(temporary, ignored);
        throw std::runtime_error("cannot rename " + temporary.string() + " to " + path.string() + ": " + ec.message());
    }
}

/// Create an output folder (and its parents); a clear error when that is impossible.
inline void make_output_directory(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || !std::filesystem::is_directory(dir))
        throw std::runtime_error("cannot create the output folder " + dir.string() +
                                 (ec ? ": " + ec.message() : std::string()));
}

/// A JSON library error as one short line: a parse error quotes what it read last, which can be
/// thousands of characters.
inline std::string json_error_text(const nlohmann::ordered_json::exception& e) {
    std::string what = e.what();
    if (what.size() > 200) what = what.substr(0, 197) + "...";
    return what;
}

}  // namespace teleport
