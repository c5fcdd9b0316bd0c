#include "fault.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <utility>

namespace priava_tokend::testing {
namespace {

namespace json = boost::json;

constexpr std::array<std::pair<fault_kind, std::string_view>, 12> kind_names{{
    {fault_kind::status, "status"},
    {fault_kind::rate_limit, "rate_limit"},
    {fault_kind::delay, "delay"},
    {fault_kind::html_error, "html_error"},
    {fault_kind::malformed, "malformed"},
    {fault_kind::malformed_with_refresh, "malformed_with_refresh"},
    {fault_kind::oversized, "oversized"},
    {fault_kind::omit_refresh_token, "omit_refresh_token"},
    {fault_kind::drop_before, "drop_before"},
    {fault_kind::drop_after, "drop_after"},
    {fault_kind::echo_request, "echo_request"},
    {fault_kind::delay_after, "delay_after"},
}};

using parsed_fault = boost::system::result<fault, std::string>;

/// A non-negative integer that fits `max`, or nothing.
std::optional<std::uint64_t> whole_number(const json::value& v, std::uint64_t max) {
    if (const auto* i = v.if_int64();
        i != nullptr && *i >= 0 && static_cast<std::uint64_t>(*i) <= max) {
        return static_cast<std::uint64_t>(*i);
    }
    if (const auto* u = v.if_uint64(); u != nullptr && *u <= max) {
        return *u;
    }
    return std::nullopt;
}

parsed_fault parse_one(const json::value& v) {
    const auto* obj = v.if_object();
    if (obj == nullptr) {
        return std::string("each fault must be a JSON object");
    }
    const auto* kind_value = obj->if_contains("kind");
    if (kind_value == nullptr || !kind_value->is_string()) {
        return std::string("a fault needs a string \"kind\"");
    }
    const auto kind = fault_kind_from_string(kind_value->get_string());
    if (!kind) {
        return "unknown fault kind \"" + std::string(kind_value->get_string()) + "\"";
    }
    fault f = fault::of(*kind);
    for (const auto& [key, value] : *obj) {
        const auto number = [&](std::uint64_t max) {
            return whole_number(value, max);
        };
        if (key == "kind") {
            continue;
        }
        if (key == "count" && number(1'000'000)) {
            f.count = static_cast<unsigned>(*number(1'000'000));
        } else if (key == "status" && *kind == fault_kind::status && number(599) &&
                   *number(599) >= 100) {
            f.status = static_cast<unsigned>(*number(599));
        } else if (key == "retry_after" && *kind == fault_kind::rate_limit && number(86'400)) {
            f.retry_after = std::chrono::seconds{*number(86'400)};
        } else if (key == "ms" &&
                   (*kind == fault_kind::delay || *kind == fault_kind::delay_after) &&
                   number(3'600'000)) {
            f.delay = std::chrono::milliseconds{*number(3'600'000)};
        } else {
            return "key \"" + std::string(key) + "\" is unknown or out of range for a " +
                   std::string(to_string(*kind)) + " fault";
        }
    }
    return f;
}

} // namespace

std::string_view to_string(fault_kind kind) noexcept {
    for (const auto& [k, name] : kind_names) {
        if (k == kind) {
            return name;
        }
    }
    return "unknown";
}

std::optional<fault_kind> fault_kind_from_string(std::string_view name) noexcept {
    for (const auto& [kind, n] : kind_names) {
        if (n == name) {
            return kind;
        }
    }
    return std::nullopt;
}

fault fault::http_status(unsigned status, unsigned count) {
    fault f = of(fault_kind::status, count);
    f.status = status;
    return f;
}

fault fault::rate_limited(std::chrono::seconds retry_after, unsigned count) {
    fault f = of(fault_kind::rate_limit, count);
    f.retry_after = retry_after;
    return f;
}

fault fault::delayed(std::chrono::milliseconds delay, unsigned count) {
    fault f = of(fault_kind::delay, count);
    f.delay = delay;
    return f;
}

fault fault::of(fault_kind kind, unsigned count) {
    fault f;
    f.kind = kind;
    f.count = count;
    return f;
}

boost::system::result<std::vector<fault>, std::string> parse_faults(std::string_view text) {
    boost::system::error_code ec;
    const json::value doc = json::parse(text, ec);
    if (ec) {
        return "faults are not JSON: " + ec.message();
    }
    std::vector<fault> faults;
    const auto add = [&](const json::value& v) -> std::optional<std::string> {
        auto f = parse_one(v);
        if (!f) {
            return f.error();
        }
        faults.push_back(*f);
        return std::nullopt;
    };
    if (const auto* array = doc.if_array()) {
        for (const auto& v : *array) {
            if (auto problem = add(v)) {
                return *problem;
            }
        }
    } else if (auto problem = add(doc)) {
        return *problem;
    }
    return faults;
}

std::optional<fault> fault_queue::take() {
    if (queue_.empty()) {
        return std::nullopt;
    }
    fault& front = queue_.front();
    const fault taken = front;
    if (front.count == 1) {
        queue_.pop_front();
    } else if (front.count > 1) {
        --front.count;
    }
    return taken;
}

} // namespace priava_tokend::testing
