// The file helpers of teleport/train/files.hpp: a run's files as one set (summary.json incomplete
// first, complete last), temporaries named by their process and removed once it is gone, output
// folders that refuse the root and an existing file, and reading only regular files.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "teleport/train/files.hpp"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using Catch::Matchers::Contains;

namespace {

struct scratch {
    fs::path path;
    scratch() {
        std::random_device random;
        path = fs::temp_directory_path() / ("teleport-files-test-" + std::to_string(random()) + std::to_string(::getpid()));
        fs::create_directories(path);
    }
    ~scratch() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
};

std::string message_of(auto&& fn) {
    try {
        fn();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "(no error)";
}

/// The pid of a process that has ended (a child that was awaited).
pid_t ended_pid() {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return pid;
}

}  // namespace

TEST_CASE("a run's index is incomplete until complete() writes it last", "[files]") {
    const scratch dir;
    const fs::path out = dir.path / "run";
    {
        const teleport::result_set files(out, {{"driver", "test"}});
        const json index = json::parse(teleport::read_text_file(out / "summary.json"));
        CHECK(index.at("status") == "incomplete");
        CHECK(index.at("driver") == "test");
        CHECK_THAT(teleport::result_status(index), Contains("incomplete"));
        teleport::write_file_atomic(out / "a.csv", "x\n1\n");
        files.complete({{"driver", "test"}, {"status", "ignored"}, {"methods", json::array()}});
    }
    const json index = json::parse(teleport::read_text_file(out / "summary.json"));
    CHECK(index.begin().key() == "status");
    CHECK(index.at("status") == "complete");
    CHECK(teleport::result_status(index).empty());
    CHECK(teleport::result_status(json{{"driver", "older file"}}).empty());
    CHECK_THAT(teleport::result_status(json{{"status", 3}}), Contains("neither"));
}

TEST_CASE("temporaries carry their process id; a dead process's are removed, a live one's stay", "[files]") {
    const scratch dir;
    CHECK(teleport::temporary_owner(".a.csv.tmp123") == 123);
    CHECK(teleport::temporary_owner("loss.png.tmp7") == 7);
    CHECK(teleport::temporary_owner("a.tmp") == 0);
    CHECK(teleport::temporary_owner("a.tmpx1") == 0);
    CHECK(teleport::temporary_owner("notes.txt") == 0);
    CHECK(teleport::temporary_path(dir.path / "x.csv").filename().string() == ".x.csv.tmp" + std::to_string(::getpid()));

    const std::string dead = std::to_string(ended_pid());
    const std::string live = std::to_string(::getppid());
    for (const std::string& name : std::vector<std::string>{".a.csv.tmp" + dead, "loss.png.tmp" + dead, "b.csv.tmp" + live, "keep.csv"})
        std::ofstream(dir.path / name) << "x";
    fs::create_directory(dir.path / ("folder.tmp" + dead));  // not a file: left alone
    CHECK(teleport::remove_stale_temporaries(dir.path) == 2);
    CHECK(fs::exists(dir.path / ("b.csv.tmp" + live)));
    CHECK(fs::exists(dir.path / "keep.csv"));
    CHECK(fs::exists(dir.path / ("folder.tmp" + dead)));
    CHECK_FALSE(fs::exists(dir.path / (".a.csv.tmp" + dead)));

    // opening an output folder removes them too
    std::ofstream(dir.path / ("c.png.tmp" + dead)) << "x";
    teleport::make_output_directory(dir.path);
    CHECK_FALSE(fs::exists(dir.path / ("c.png.tmp" + dead)));
}

TEST_CASE("output folders: the root, an empty name and an existing file are refused", "[files]") {
    const scratch dir;
    CHECK_THAT(message_of([] { teleport::make_output_directory("/"); }), Contains("root folder"));
    CHECK_THAT(message_of([] { teleport::make_output_directory("/tmp/.."); }), Contains("root folder"));
    CHECK_THAT(message_of([] { teleport::make_output_directory(""); }), Contains("empty"));
    std::ofstream(dir.path / "file") << "x";
    CHECK_THAT(message_of([&] { teleport::make_output_directory(dir.path / "file"); }), Contains("is not a folder"));
    teleport::make_output_directory(dir.path / "a" / "b");
    CHECK(fs::is_directory(dir.path / "a" / "b"));
}

TEST_CASE("read_text_file reads regular files only, naming the file", "[files]") {
    const scratch dir;
    std::ofstream(dir.path / "text") << "hello\n";
    CHECK(teleport::read_text_file(dir.path / "text") == "hello\n");
    const fs::path fifo = dir.path / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK_THAT(message_of([&] { teleport::read_text_file(fifo); }), Contains("fifo") && Contains("not a regular file"));
    CHECK_THAT(message_of([&] { teleport::read_text_file(dir.path); }), Contains("is a folder"));
    CHECK_THAT(message_of([&] { teleport::read_text_file(dir.path / "none"); }), Contains("does not exist"));
    CHECK_THAT(message_of([] { teleport::read_text_file("/dev/zero"); }), Contains("not a regular file"));
}
