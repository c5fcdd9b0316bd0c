#include "../support/temp_dir.hpp"

#include <priava_tokend/core/sha256.hpp>
#include <priava_tokend/keeper/credential_fingerprint.hpp>
#include <priava_tokend/keeper/state_codec.hpp>
#include <priava_tokend/keeper/state_file.hpp>
#include <priava_tokend/keeper/state_lock.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <thread>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

using namespace std::chrono;
using testing::temp_dir;

const std::string fingerprint = credential_fingerprint(
    {"https://api.priava.com/api/rest/oauth/token", region::apac, "client", {}, "https://cb", {}});

stored_tokens sample(std::uint64_t generation, std::size_t access_length = 40) {
    stored_tokens t;
    t.refresh_token = secret{"refresh+/=" + std::to_string(generation)};
    t.access_token = secret{std::string(access_length, 'a') + std::to_string(generation)};
    t.received_at = sys_days{2026y / November / 25} + 10h;
    t.expires_at = t.received_at + 6h;
    t.generation = generation;
    return t;
}

mode_t mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return st.st_mode & 07777;
}

TEST(StateFile, RoundTripsEveryField) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    auto tokens = sample(7);
    tokens.bootstrap_code_sha256 = sha256_hex("code");
    ASSERT_TRUE(write_state_file(path, encode_state(tokens, fingerprint)));
    const auto back = read_state_file(path, fingerprint);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->refresh_token, tokens.refresh_token);
    EXPECT_EQ(back->access_token, tokens.access_token);
    EXPECT_EQ(back->expires_at, tokens.expires_at);
    EXPECT_EQ(back->received_at, tokens.received_at);
    EXPECT_EQ(back->generation, 7u);
    EXPECT_EQ(back->bootstrap_code_sha256, tokens.bootstrap_code_sha256);
}

TEST(StateFile, IsWrittenWithMode0600WhateverTheUmask) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    const mode_t old = ::umask(0);
    const auto written = write_state_file(path, encode_state(sample(1), fingerprint));
    ::umask(old);
    ASSERT_TRUE(written);
    EXPECT_EQ(mode_of(path), 0600u);
}

TEST(StateFile, MissingFileIsReportedAsMissing) {
    temp_dir dir;
    const auto r = read_state_file(dir.file("none.json"), fingerprint);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, make_error_code(errc::state_missing));
}

TEST(StateFile, GroupOrWorldReadableFileIsRefused) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    ASSERT_TRUE(write_state_file(path, encode_state(sample(1), fingerprint)));
    for (const mode_t mode : {0640, 0604, 0660, 0620}) {
        ::chmod(path.c_str(), mode);
        const auto r = read_state_file(path, fingerprint);
        ASSERT_FALSE(r) << std::oct << mode;
        EXPECT_EQ(r.error().code, make_error_code(errc::file_insecure));
        EXPECT_NE(r.error().message.find("chmod 600 " + path), std::string::npos);
    }
}

TEST(StateFile, SymlinkIsRefused) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    ASSERT_TRUE(write_state_file(path, encode_state(sample(1), fingerprint)));
    std::filesystem::create_symlink(path, dir.file("link.json"));
    EXPECT_FALSE(read_state_file(dir.file("link.json"), fingerprint));
}

TEST(StateFile, ForeignCredentialIsRefused) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    ASSERT_TRUE(write_state_file(path, encode_state(sample(1), "another-fingerprint")));
    const auto r = read_state_file(path, fingerprint);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, make_error_code(errc::state_foreign));
    EXPECT_NE(r.error().message.find("--force"), std::string::npos);
}

TEST(StateFile, FingerprintCoversUrlClientAndRegion) {
    const config::priava_section base{"https://h/t", region::apac, "c", {}, "https://cb", {}};
    auto other_region = base;
    other_region.region = region::eu;
    auto other_client = base;
    other_client.client_id = "d";
    auto other_url = base;
    other_url.token_url = "https://h/u";
    auto other_redirect = base;
    other_redirect.redirect_uri = "https://other";
    EXPECT_NE(credential_fingerprint(base), credential_fingerprint(other_region));
    EXPECT_NE(credential_fingerprint(base), credential_fingerprint(other_client));
    EXPECT_NE(credential_fingerprint(base), credential_fingerprint(other_url));
    EXPECT_EQ(credential_fingerprint(base), credential_fingerprint(other_redirect));
}

TEST(StateFile, CorruptFileIsRefusedAndLeftAlone) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    const secret encoded = encode_state(sample(3), fingerprint);
    const std::string text{encoded.reveal().substr(0, 50)};
    testing::write_file(path, text);
    const auto r = read_state_file(path, fingerprint);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, make_error_code(errc::state_corrupt));
    EXPECT_EQ(testing::read_file(path), text);
}

TEST(StateFile, CorruptionMessagesNeverQuoteTheTokens) {
    const secret encoded = encode_state(sample(3), fingerprint);
    const std::string good{encoded.reveal()};
    for (const std::string& bad : {good.substr(0, good.size() / 2), std::string("{\"format\":1}"),
                                   std::string("[]"), std::string("{\"format\":2}")}) {
        const auto r = decode_state(bad, fingerprint);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().message.find("refresh+/="), std::string::npos);
    }
}

TEST(StateFile, DecodeRejectsMissingOrWrongTypedFields) {
    const auto without = [&](std::string_view field) {
        const secret encoded = encode_state(sample(3), fingerprint);
        std::string s(encoded.reveal());
        const auto pos = s.find("\"" + std::string(field) + "\"");
        s.replace(pos, field.size() + 2, "\"x" + std::string(field) + "\"");
        return s;
    };
    for (const char* field :
         {"refresh_token", "access_token", "expires_at", "received_at", "generation"}) {
        EXPECT_FALSE(decode_state(without(field), fingerprint)) << field;
    }
}

TEST(StateFile, AReaderNeverSeesAPartialFile) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    const auto small = encode_state(sample(1, 10), fingerprint);
    const auto large = encode_state(sample(2, 30000), fingerprint);
    ASSERT_TRUE(write_state_file(path, small));
    std::atomic<bool> done{false};
    std::atomic<int> reads{0};
    std::atomic<int> failures{0};
    std::thread reader([&] {
        while (!done.load()) {
            const auto r = read_state_file(path, fingerprint);
            if (!r || (r->generation != 1 && r->generation != 2)) {
                ++failures;
            }
            ++reads;
        }
    });
    for (int i = 0; i < 300; ++i) {
        ASSERT_TRUE(write_state_file(path, i % 2 == 0 ? large : small));
    }
    while (reads.load() < 100) {
        std::this_thread::yield();
    }
    done = true;
    reader.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_GE(reads.load(), 100);
}

TEST(StateFile, FailedWriteLeavesThePreviousFileIntact) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    ASSERT_TRUE(write_state_file(path, encode_state(sample(1), fingerprint)));
    const std::string before = testing::read_file(path);
    // A child with a 100-byte file size limit: every write of the state file fails (EFBIG).
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        std::signal(SIGXFSZ, SIG_IGN);
        const rlimit limit{100, 100};
        ::setrlimit(RLIMIT_FSIZE, &limit);
        const auto r = write_state_file(path, encode_state(sample(2, 5000), fingerprint));
        const bool names_cause =
            !r && r.error().message.find("File too large") != std::string::npos;
        ::_exit(names_cause ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_EQ(testing::read_file(path), before);
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) {
        ++entries;
    }
    EXPECT_EQ(entries, 1u) << "the temporary file was not removed";
}

TEST(StateFile, WriteIntoMissingDirectoryFailsWithItsName) {
    temp_dir dir;
    const auto r =
        write_state_file(dir.file("missing/state.json"), encode_state(sample(1), fingerprint));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, make_error_code(errc::state_write_failed));
    EXPECT_NE(r.error().message.find(dir.file("missing")), std::string::npos);
}

TEST(StateFile, StaleTemporariesAreRemoved) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    testing::write_file(dir.file(".state.json.tmp-0011aabbccdd"), "partial");
    testing::write_file(dir.file("unrelated"), "keep");
    remove_stale_temporaries(path);
    EXPECT_FALSE(std::filesystem::exists(dir.file(".state.json.tmp-0011aabbccdd")));
    EXPECT_TRUE(std::filesystem::exists(dir.file("unrelated")));
}

TEST(StateLock, SecondOwnerInAnotherProcessIsRefusedWithTheHoldersPid) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    int ready[2];
    int release[2];
    ASSERT_EQ(::pipe(ready), 0);
    ASSERT_EQ(::pipe(release), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        auto lock = state_lock::acquire(path);
        const char c = lock ? '1' : '0';
        (void)!::write(ready[1], &c, 1);
        char wait;
        (void)!::read(release[0], &wait, 1);
        ::_exit(0);
    }
    char c = 0;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    ASSERT_EQ(c, '1');

    const auto second = state_lock::acquire(path);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, make_error_code(errc::state_locked));
    EXPECT_NE(second.error().message.find("pid " + std::to_string(child)), std::string::npos)
        << second.error().message;
    EXPECT_EQ(state_lock::holder(path), child);

    (void)!::write(release[1], "x", 1);
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_FALSE(state_lock::holder(path));
    EXPECT_TRUE(state_lock::acquire(path));
    for (int fd : {ready[0], ready[1], release[0], release[1]}) {
        ::close(fd);
    }
}

TEST(StateLock, IsReleasedWhenTheOwnerGoes) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    {
        auto first = state_lock::acquire(path);
        ASSERT_TRUE(first);
        EXPECT_EQ(state_lock::holder(path), ::getpid());
    }
    EXPECT_TRUE(state_lock::acquire(path));
    EXPECT_EQ(mode_of(path + ".lock"), 0600u);
}

} // namespace
} // namespace priava_tokend
