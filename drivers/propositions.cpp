// propositions — check the paper's propositions (4.1, 4.2, 5.1, 5.2, 5.4–5.7) numerically on
// Rosenbrock, Booth, a two-layer linear network and random quadratics, and print one row per check.
// Exit status 0 when every check passes, 1 when one fails, 2 on bad input. The checks themselves live
// in teleport/suites/propositions.hpp; docs/propositions.md explains each row.
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>

#include "driver_common.hpp"
#include "teleport/suites/propositions.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Check the propositions of symmetry teleportation (paper sections 4-5) on random points and "
                 "group elements."};
    std::uint64_t seed = 1;
    std::size_t trials = 200;
    bool verbose = false;
    app.add_option("--seed", seed, "seed of every random draw (points, group elements, quadratics)")
        ->capture_default_str()
        ->check(teleport::drivers::seed_value());
    app.add_option("--trials", trials, "random draws per check (a quarter as many, at least 4, for checks that teleport)")
        ->capture_default_str()
        ->check(teleport::drivers::positive());
    app.add_flag("--details,!--no-details", verbose, "print each check's counts and worst case under its row")
        ->capture_default_str();

    return teleport::drivers::run_driver("propositions", app, argc, argv, [&] {
        const auto rows = teleport::propositions::standard_suite(seed, trials);
        std::printf("%-5s %-30s %-46s %11s %9s  %s\n", "prop", "problem", "measured quantity", "value", "tolerance",
                    "result");
        std::size_t failed = 0;
        for (const auto& r : rows) {
            std::printf("%-5s %-30s %-46s %11.3e %9.0e  %s\n", r.proposition.c_str(), r.problem.c_str(),
                        r.quantity.c_str(), r.value, r.tolerance, r.passed ? "pass" : "FAIL");
            if (verbose || !r.passed) std::printf("      %s\n", r.detail.c_str());
            if (!r.passed) ++failed;
        }
        std::printf("\n%zu checks, %zu failed (seed %llu, %zu trials; passed when value <= tolerance)\n", rows.size(),
                    failed, static_cast<unsigned long long>(seed), trials);
        return failed == 0 ? 0 : 1;
    });
}
