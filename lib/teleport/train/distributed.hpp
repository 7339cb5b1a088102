// teleport/train/distributed.hpp — the communicator of train/data_parallel.hpp on MPI, and the
// frame of a program started by mpirun. The only header of the library that includes <mpi.h>:
// include it only where MPI is found (Meson: mpi_dep, -Dmpi=auto|true|false).
//
//     int main(int argc, char** argv) {
//         if (teleport::started_by_mpirun())
//             return teleport::run_on_ranks(argc, argv, "mnist", [&](const teleport::communicator& comm) {
//                 return run(comm);           // 0 or an exit status; exceptions are the caller's to report
//             });
//         return run(teleport::single_process{});
//     }
//
// Failures. A rank that fails where every rank is at the same point (a collective() step such as
// reading the data, or an error every rank meets, such as a bad option) makes every rank return
// the same non-zero status, and one message is printed, by the lowest failing rank. A rank that
// fails alone while the others wait inside a sum waits for them at most `timeout` seconds, prints
// its message and aborts the job (MPI_Abort): no rank hangs. The ranks other than the root print
// nothing else (their standard output and error go to /dev/null; the root reports the run).
#pragma once

// MPI's C API only: not the deprecated C++ bindings that Open MPI's and MPICH's mpi.h pull in
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>

#include "teleport/train/data_parallel.hpp"

namespace teleport {

/// MPI_Init on construction, MPI_Finalize on destruction.
class mpi_session {
  public:
    mpi_session(int& argc, char**& argv) {
        if (MPI_Init(&argc, &argv) != MPI_SUCCESS) throw std::runtime_error("MPI_Init failed");
    }
    ~mpi_session() {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized) MPI_Finalize();
    }
    mpi_session(const mpi_session&) = delete;
    mpi_session& operator=(const mpi_session&) = delete;
};

/// The communicator on an MPI communicator (a duplicate of `parent`, so that its collectives never
/// match those of other code). MPI errors abort the job (MPI's default handler).
class mpi_communicator final : public communicator {
  public:
    explicit mpi_communicator(MPI_Comm parent = MPI_COMM_WORLD) {
        MPI_Comm_dup(parent, &comm_);
        MPI_Comm_rank(comm_, &rank_);
        MPI_Comm_size(comm_, &size_);
    }
    ~mpi_communicator() override {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized) MPI_Comm_free(&comm_);
    }
    mpi_communicator(const mpi_communicator&) = delete;
    mpi_communicator& operator=(const mpi_communicator&) = delete;

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    MPI_Comm handle() const { return comm_; }

    void sum(std::span<double> values) const override {
        if (values.empty()) return;
        MPI_Allreduce(MPI_IN_PLACE, values.data(), int(values.size()), MPI_DOUBLE, MPI_SUM, comm_);
    }

    void require_identical(std::span<const std::byte> bytes, const std::string& what) const override {
        // FNV-1a of the bytes with their length; the root's hash against everyone's
        std::uint64_t h = 1469598103934665603ull;
        for (std::byte b : bytes) h = (h ^ std::uint64_t(b)) * 1099511628211ull;
        h = (h ^ std::uint64_t(bytes.size())) * 1099511628211ull;
        std::uint64_t root = h;
        MPI_Bcast(&root, 1, MPI_UINT64_T, 0, comm_);
        int first = root == h ? size_ : rank_;
        MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, comm_);
        if (first < size_) throw rank_failure(first, what + " differ from rank 0's");
    }

    void agree(const std::string& error) const override {
        int first = error.empty() ? size_ : rank_;
        MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, comm_);
        if (first == size_) return;
        std::string message = rank_ == first ? error : std::string();
        broadcast(message, first);
        throw rank_failure(first, message);
    }

    std::vector<std::string> gather(const std::string& text) const override {
        int length = int(text.size());
        std::vector<int> lengths(rank_ == 0 ? std::size_t(size_) : 0), offsets(lengths.size());
        MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, comm_);
        std::vector<char> all;
        if (rank_ == 0) {
            int total = 0;
            for (int r = 0; r < size_; ++r) {
                offsets[std::size_t(r)] = total;
                total += lengths[std::size_t(r)];
            }
            all.resize(std::size_t(total));
        }
        MPI_Gatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, 0, comm_);
        std::vector<std::string> texts;
        for (std::size_t r = 0; r < lengths.size(); ++r)
            texts.emplace_back(all.data() + offsets[r], std::size_t(lengths[r]));
        return texts;
    }

  private:
    void broadcast(std::string& text, int from) const {
        unsigned long long length = text.size();
        MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, from, comm_);
        text.resize(std::size_t(length));
        MPI_Bcast(text.data(), int(length), MPI_CHAR, from, comm_);
    }

    MPI_Comm comm_ = MPI_COMM_NULL;
    int rank_ = 0, size_ = 1;
};

/// On a rank other than the root: standard output and error go to /dev/null and std::cerr into a
/// string (the rank's error message, printed only if this rank is the one to report a failure).
class quiet_rank {
  public:
    explicit quiet_rank(bool quiet) : quiet_(quiet) {
        if (!quiet_) return;
        std::fflush(stdout);
        std::fflush(stderr);
        saved_err_ = ::dup(2);
        const int null = ::open("/dev/null", O_WRONLY);
        if (null >= 0) {
            ::dup2(null, 1);
            ::dup2(null, 2);
            ::close(null);
        }
        old_ = std::cerr.rdbuf(captured_.rdbuf());
    }
    ~quiet_rank() {
        if (!quiet_) return;
        std::cerr.rdbuf(old_);
        if (saved_err_ >= 0) {
            std::fflush(stderr);
            ::dup2(saved_err_, 2);
            ::close(saved_err_);
        }
    }
    quiet_rank(const quiet_rank&) = delete;
    quiet_rank& operator=(const quiet_rank&) = delete;

    /// Writes what this rank wrote to std::cerr to the real standard error (the root's is there).
    void report(int rank) const {
        if (!quiet_) return;
        std::string text = captured_.str();
        if (text.empty()) text = "error: rank " + std::to_string(rank) + " failed without a message\n";
        else if (const auto at = text.find(": error: "); at != std::string::npos && text.find("rank ", at) != at + 9)
            text.insert(at + 9, "rank " + std::to_string(rank) + ": ");
        if (saved_err_ >= 0) {
            const ssize_t written = ::write(saved_err_, text.data(), text.size());
            (void)written;
        }
    }

  private:
    bool quiet_;
    int saved_err_ = -1;
    std::ostringstream captured_;
    std::streambuf* old_ = nullptr;
};

/// The frame of a program on MPI ranks (see the top of this file): initializes MPI, quiets the
/// ranks other than the root, runs body(comm) (an exit status; an exception escaping it counts as
/// status 2, its message on std::cerr as "<name>: error: …"), and agrees on the outcome: every rank
/// returns the largest status, and the lowest failing rank's message is the one printed. A failing
/// rank that the others do not join within `timeout` seconds aborts the job.
template <class Body>
int run_on_ranks(int& argc, char**& argv, std::string_view name, Body&& body, double timeout = 10) {
    mpi_session session(argc, argv);
    const mpi_communicator control, comm;
    int status = 0;
    {
        quiet_rank quiet(!control.root());
        try {
            status = body(static_cast<const communicator&>(comm));
        } catch (const std::exception& e) {
            std::cerr << name << ": error: " << e.what() << "\n";
            status = 2;
        }
        int outcome[2] = {status != 0 ? control.rank() : control.size(), status};
        int agreed[2] = {0, 0};
        MPI_Request request[2];
        MPI_Iallreduce(&outcome[0], &agreed[0], 1, MPI_INT, MPI_MIN, control.handle(), &request[0]);
        MPI_Iallreduce(&outcome[1], &agreed[1], 1, MPI_INT, MPI_MAX, control.handle(), &request[1]);
        int done = 0;
        const auto start = std::chrono::steady_clock::now();
        while (true) {
            MPI_Testall(2, request, &done, MPI_STATUSES_IGNORE);
            if (done) break;
            if (status != 0 && std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > timeout) {
                quiet.report(control.rank());  // the others are still inside the run: end them
                MPI_Abort(MPI_COMM_WORLD, status);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(status != 0 ? 10 : 1));
        }
        if (agreed[0] == control.rank() && agreed[0] != 0) quiet.report(control.rank());
        status = agreed[1];
    }
    return status;
}

}  // namespace teleport
