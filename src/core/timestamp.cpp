#include <priava_tokend/core/timestamp.hpp>

#include <charconv>
#include <cstdio>

namespace priava_tokend {
namespace {

using namespace std::chrono;

bool read_int(std::string_view text, std::size_t pos, std::size_t width, int& out) {
    if (pos + width > text.size()) {
        return false;
    }
    for (std::size_t i = pos; i < pos + width; ++i) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
    }
    std::from_chars(text.data() + pos, text.data() + pos + width, out);
    return true;
}

struct parsed {
    wall_time local;
    std::string_view rest; ///< what follows the seconds (and fraction)
};

/// `YYYY-MM-DD[T ]HH:MM:SS[.frac]` read as UTC; the rest is left for the zone.
std::optional<parsed> parse_date_time(std::string_view text) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    if (!read_int(text, 0, 4, y) || text.size() < 19 || text[4] != '-' ||
        !read_int(text, 5, 2, mo) || text[7] != '-' || !read_int(text, 8, 2, d) ||
        (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !read_int(text, 11, 2, h) ||
        text[13] != ':' || !read_int(text, 14, 2, mi) || text[16] != ':' ||
        !read_int(text, 17, 2, s)) {
        return std::nullopt;
    }
    const year_month_day date{year{y}, month{static_cast<unsigned>(mo)},
                              day{static_cast<unsigned>(d)}};
    // The years system_clock's nanoseconds can hold, with room for a zone and arithmetic
    // (1678 to 2262 in all); outside them the conversion below would overflow.
    if (!date.ok() || y < 1970 || y > 2200 || h > 23 || mi > 59 || s > 60) {
        return std::nullopt;
    }
    std::size_t pos = 19;
    milliseconds frac{0};
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        const std::size_t digits_start = pos;
        int scale = 100;
        int ms = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            ms += (text[pos] - '0') * scale;
            scale /= 10;
            ++pos;
        }
        if (pos == digits_start) {
            return std::nullopt;
        }
        frac = milliseconds{ms};
    }
    const auto t = sys_days{date} + hours{h} + minutes{mi} + seconds{s} + frac;
    return parsed{time_point_cast<system_clock::duration>(t), text.substr(pos)};
}

std::optional<wall_time> apply_zone(wall_time local, std::string_view zone) {
    if (zone == "Z" || zone == "z") {
        return local;
    }
    int zh = 0, zm = 0;
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || !read_int(zone, 1, 2, zh) ||
        zone[3] != ':' || !read_int(zone, 4, 2, zm) || zh > 23 || zm > 59) {
        return std::nullopt;
    }
    const auto offset = hours{zh} + minutes{zm};
    return zone[0] == '+' ? local - offset : local + offset;
}

} // namespace

std::string format_rfc3339(wall_time t) {
    const auto secs = floor<seconds>(t);
    const auto days = floor<std::chrono::days>(secs);
    const year_month_day date{days};
    const hh_mm_ss time{secs - days};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                  static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                  static_cast<int>(time.seconds().count()));
    return buf;
}

std::optional<wall_time> parse_rfc3339(std::string_view text) {
    const auto p = parse_date_time(text);
    if (!p) {
        return std::nullopt;
    }
    return apply_zone(p->local, p->rest);
}

std::optional<wall_time> parse_priava_retry_after(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    const auto p = parse_date_time(text);
    if (!p) {
        return std::nullopt;
    }
    if (p->rest.empty()) {
        return p->local;
    }
    return apply_zone(p->local, p->rest);
}

double unix_seconds(wall_time t) {
    return duration_cast<duration<double>>(t.time_since_epoch()).count();
}

} // namespace priava_tokend
