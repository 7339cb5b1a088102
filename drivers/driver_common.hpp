// drivers/driver_common.hpp — what every driver shares: one error style and one exit status.
#pragma once

#include <cmath>
#include <cstdlib>
#include <string>
#include <exception>
#include <iostream>
#include <string_view>

#include <CLI/CLI.hpp>

namespace teleport::drivers {

/// A validator for options that must be finite and strictly positive (rates, step counts).
inline CLI::Validator positive() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            try {
                std::size_t used = 0;
                const double value = std::stod(text, &used);
                if (used == text.size() && std::isfinite(value) && value > 0) return {};
            } catch (const std::exception&) {
            }
            return "must be a finite positive number (got '" + text + "')";
        },
        "POSITIVE");
}

/// Run a driver's body; bad input (a CLI11 parse error or an exception from the library) becomes
/// one line "<driver>: error: <what>" on stderr and exit status 2, never a crash.
template <class Body>
int run_driver(std::string_view name, CLI::App& app, int argc, char** argv, Body&& body) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << name << ": error: " << e.what() << "\n";
        return 2;
    }
    try {
        return body();
    } catch (const std::exception& e) {
        std::cerr << name << ": error: " << e.what() << "\n";
        return 2;
    }
}

}  // namespace teleport::drivers
