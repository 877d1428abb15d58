/*
 * Host tests of the firmware's protocol code and count store, compiled with gcc:
 *  1. every vector in the shared vectors file (the TypeScript tests read the same one);
 *  2. the count store survives a save cut short at every byte, and spreads its writes.
 * Prints one line per failure and a summary; exit status 1 on any failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dropbox-board/countstore.h"
#include "../dropbox-board/protocol.h"

static int failures, checks;

#define CHECK(cond, ...)                                    \
    do {                                                    \
        checks++;                                           \
        if (!(cond)) {                                      \
            failures++;                                     \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                   \
            fprintf(stderr, "\n");                          \
        }                                                   \
    } while (0)

/* \r, \xHH and {C*N} as the vectors file writes them. */
static size_t unescape(const char *in, char *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; in[i] && n < cap; i++) {
        if (in[i] == '\\' && in[i + 1] == 'r') {
            out[n++] = '\r';
            i++;
        } else if (in[i] == '\\' && in[i + 1] == 'x') {
            char hex[3] = {in[i + 2], in[i + 3], 0};
            out[n++] = (char)strtol(hex, NULL, 16);
            i += 3;
        } else if (in[i] == '{' && in[i + 2] == '*') {
            char c = in[i + 1];
            long count = strtol(in + i + 3, NULL, 10);
            for (long k = 0; k < count && n < cap; k++) out[n++] = c;
            while (in[i] && in[i] != '}') i++;
        } else {
            out[n++] = in[i];
        }
    }
    return n;
}

static const char *type_name(command_type_t t) {
    switch (t) {
    case CMD_UNLOCK: return "UNLOCK";
    case CMD_RESET: return "RESET";
    case CMD_LED: return "LED";
    default: return "STATUS";
    }
}

static void command_vector(int version, const char *input, const char *expected) {
    char line[2048];
    size_t len = unescape(input, line, sizeof line);
    command_t c;
    memset(&c, 0, sizeof c);
    parse_result_t r = proto_parse_command(line, len, (uint8_t)version, &c);
    char got[256];
    if (r == PARSE_OK) {
        static const char *leds[] = {"OFF", "ON", "BLINK"};
        if (c.type == CMD_STATUS) snprintf(got, sizeof got, "ok %u STATUS", c.seq);
        else if (c.type == CMD_LED) snprintf(got, sizeof got, "ok %u LED %s", c.seq, leds[c.value]);
        else snprintf(got, sizeof got, "ok %u %s %lu", c.seq, type_name(c.type), (unsigned long)c.value);
    } else if (r == PARSE_UNKNOWN_TYPE || r == PARSE_BAD_ARGS) {
        snprintf(got, sizeof got, "%s seq=%u", proto_reason_name(r), c.seq);
    } else {
        snprintf(got, sizeof got, "%s", proto_reason_name(r));
    }
    CHECK(strcmp(got, expected) == 0, "v%d command %s: expected '%s', got '%s'", version, input, expected, got);
}

static void frame_vector(int version, char *input, const char *expected) {
    char *fields[8] = {0};
    int n = 0;
    for (char *p = strtok(input, "|"); p && n < 8; p = strtok(NULL, "|")) fields[n++] = p;
    if (n < 2) {
        CHECK(0, "frame vector with fewer than 2 fields");
        return;
    }
    frame_t f;
    proto_begin(&f, (uint16_t)atoi(fields[0]), fields[1]);
    for (int i = 2; i < n; i++) proto_add_text(&f, fields[i]);
    uint8_t len = proto_finish(&f, (uint8_t)version);
    CHECK(len > 0 && f.buf[len - 1] == '\n', "v%d frame %s: not finished", version, fields[1]);
    if (len > 0) f.buf[len - 1] = '\0';
    CHECK(strcmp(f.buf, expected) == 0, "v%d frame: expected '%s', got '%s'", version, expected, f.buf);
}

static void checksum_vector(int version, const char *body, const char *expected) {
    char got[8];
    if (version == 1) snprintf(got, sizeof got, "%02X", proto_xor(body, strlen(body)));
    else snprintf(got, sizeof got, "%04X", proto_crc16(body, strlen(body)));
    CHECK(strcmp(got, expected) == 0, "v%d checksum of '%s': expected %s, got %s", version, body, expected, got);
}

static int run_vectors(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 0;
    }
    char raw[4096];
    int count = 0;
    while (fgets(raw, sizeof raw, f)) {
        raw[strcspn(raw, "\n")] = '\0';
        if (raw[0] == '#' || raw[0] == '\0') continue;
        char *kind = raw;
        char *tab1 = strchr(kind, '\t');
        if (!tab1) continue;
        *tab1 = '\0';
        char *version = tab1 + 1;
        char *tab2 = strchr(version, '\t');
        *tab2 = '\0';
        char *input = tab2 + 1;
        char *tab3 = strrchr(input, '\t');
        *tab3 = '\0';
        char *expected = tab3 + 1;
        count++;
        if (!strcmp(kind, "checksum")) checksum_vector(atoi(version), input, expected);
        else if (!strcmp(kind, "command")) command_vector(atoi(version), input, expected);
        else if (!strcmp(kind, "frame")) frame_vector(atoi(version), input, expected);
        else CHECK(0, "unknown vector kind %s", kind);
    }
    fclose(f);
    return count;
}

/* ---- the count store on a fake EEPROM that can lose power at any byte --------- */

static uint8_t eeprom[COUNT_EEPROM_BYTES];
static unsigned long writes_to[COUNT_EEPROM_BYTES];
static long writes_left = -1; /* -1: no power cut planned */

static uint8_t fake_read(uint16_t a) { return eeprom[a]; }
static void fake_write(uint16_t a, uint8_t v) {
    if (writes_left == 0) return; /* power gone: nothing more reaches the EEPROM */
    if (writes_left > 0) writes_left--;
    if (eeprom[a] != v) writes_to[a]++;
    eeprom[a] = v;
}
static const eeprom_io_t fake_io = {fake_read, fake_write};

static void test_count_store(void) {
    memset(eeprom, 0xFF, sizeof eeprom);
    countstore_t s;
    countstore_load(&s, &fake_io);
    CHECK(s.count == 0, "a blank EEPROM holds count 0, got %lu", (unsigned long)s.count);

    /* Save 1..N and reload after each: the count read back is the last one saved. */
    for (uint32_t n = 1; n <= 3 * COUNT_SLOTS + 7; n++) {
        countstore_save(&s, &fake_io, n);
        countstore_t again;
        countstore_load(&again, &fake_io);
        CHECK(again.count == n, "after saving %lu, read %lu", (unsigned long)n, (unsigned long)again.count);
    }

    /* A save cut after every possible number of byte writes, at every slot of the
     * ring: what is read back is the old count or the new one, never anything else. */
    for (int round = 0; round < COUNT_SLOTS + 2; round++) {
        countstore_t before;
        countstore_load(&before, &fake_io);
        uint32_t old_count = before.count;
        for (long cut = 0; cut <= COUNT_RECORD_BYTES; cut++) {
            uint8_t saved[COUNT_EEPROM_BYTES];
            memcpy(saved, eeprom, sizeof eeprom);
            countstore_t s2 = before;
            writes_left = cut;
            countstore_save(&s2, &fake_io, old_count + 1000);
            writes_left = -1;
            countstore_t after;
            countstore_load(&after, &fake_io);
            CHECK(after.count == old_count || after.count == old_count + 1000,
                  "save cut after %ld bytes: read %lu, expected %lu or %lu", cut, (unsigned long)after.count,
                  (unsigned long)old_count, (unsigned long)old_count + 1000);
            if (cut == COUNT_RECORD_BYTES) CHECK(after.count == old_count + 1000, "a whole save is read back");
            memcpy(eeprom, saved, sizeof eeprom);
        }
        countstore_save(&before, &fake_io, old_count + 1); /* move round the ring */
    }

    /* Wear: after many saves, no byte was written more than about saves / slots times. */
    memset(eeprom, 0xFF, sizeof eeprom);
    memset(writes_to, 0, sizeof writes_to);
    countstore_load(&s, &fake_io);
    const unsigned long saves = 100UL * COUNT_SLOTS;
    for (unsigned long i = 1; i <= saves; i++) countstore_save(&s, &fake_io, (uint32_t)i);
    unsigned long most = 0;
    for (int a = 0; a < COUNT_EEPROM_BYTES; a++)
        if (writes_to[a] > most) most = writes_to[a];
    CHECK(most <= saves / COUNT_SLOTS, "the most-written byte took %lu of %lu saves (%d slots)", most, saves, COUNT_SLOTS);
    printf("count store: %d slots of %d bytes; %lu saves wrote no byte more than %lu times\n", COUNT_SLOTS,
           COUNT_RECORD_BYTES, saves, most);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: host-tests VECTORS_FILE\n");
        return 2;
    }
    int vectors = run_vectors(argv[1]);
    CHECK(vectors >= 100, "only %d vectors read from %s", vectors, argv[1]);
    test_count_store();
    printf("%d vectors, %d checks, %d failures\n", vectors, checks, failures);
    return failures ? 1 : 0;
}
