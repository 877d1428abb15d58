/* The board's protocol code: see protocol.h. No allocation, no AVR dependency. */
#include "protocol.h"
#include <string.h>

uint8_t proto_xor(const char *bytes, size_t len) {
    uint8_t x = 0;
    for (size_t i = 0; i < len; i++) x ^= (uint8_t)bytes[i];
    return x;
}

/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final XOR. */
uint16_t proto_crc16(const char *bytes, size_t len) {
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint8_t)bytes[i]) << 8;
        for (uint8_t bit = 0; bit < 8; bit++) crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

const char *proto_reason_name(parse_result_t r) {
    switch (r) {
    case PARSE_OK: return "ok";
    case PARSE_TOO_LONG: return "too_long";
    case PARSE_NOT_ASCII: return "not_ascii";
    case PARSE_BAD_SYNTAX: return "bad_syntax";
    case PARSE_BAD_CHECKSUM: return "bad_checksum";
    case PARSE_UNKNOWN_TYPE: return "unknown_type";
    case PARSE_BAD_ARGS: return "bad_args";
    default: return "?";
    }
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1; /* lowercase is not a checksum digit (CONTRACT §3) */
}

/* Unsigned decimal digits up to `max`; 0 on success. */
static int parse_uint(const char *s, size_t len, uint32_t max, uint32_t *out) {
    if (len == 0) return -1;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        uint32_t d = (uint32_t)(s[i] - '0');
        if (v > (max - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int field_is(const char *s, size_t len, const char *word) {
    size_t n = strlen(word);
    return len == n && memcmp(s, word, n) == 0;
}

parse_result_t proto_parse_command(const char *line, size_t len, uint8_t version, command_t *out) {
    if (len + 1 > PROTO_MAX_LINE) return PARSE_TOO_LONG;
    if (len > 0 && line[len - 1] == '\r') len--;
    for (size_t i = 0; i < len; i++) {
        if ((uint8_t)line[i] < 0x20 || (uint8_t)line[i] > 0x7E) return PARSE_NOT_ASCII;
    }
    if (len == 0 || line[0] != '$') return PARSE_BAD_SYNTAX;
    size_t star = len;
    while (star > 0 && line[star - 1] != '*') star--;
    if (star == 0) return PARSE_BAD_SYNTAX;
    star--; /* index of the last '*' */
    size_t digits = len - star - 1;
    if (digits != 2 && digits != 4) return PARSE_BAD_SYNTAX;
    uint16_t cs = 0;
    for (size_t i = star + 1; i < len; i++) {
        int h = hex_value(line[i]);
        if (h < 0) return PARSE_BAD_SYNTAX;
        cs = (uint16_t)((cs << 4) | (uint16_t)h);
    }
    const char *body = line + 1;
    size_t body_len = star - 1;
    for (size_t i = 0; i < body_len; i++) {
        if (body[i] == '$' || body[i] == '*') return PARSE_BAD_SYNTAX;
    }
    /* The board speaks one version: a line in the other one is a bad checksum. */
    if (digits != (version == 1 ? 2u : 4u)) return PARSE_BAD_CHECKSUM;
    uint16_t computed = version == 1 ? proto_xor(body, body_len) : proto_crc16(body, body_len);
    if (computed != cs) return PARSE_BAD_CHECKSUM;

    /* Split into at most 4 fields: seq, type, arg, and anything after (an error). */
    const char *field[4];
    size_t flen[4];
    uint8_t nfields = 0;
    uint8_t too_many = 0; /* decided once seq is known, so the command can be NAK'd */
    size_t start = 0;
    for (size_t i = 0; i <= body_len; i++) {
        if (i == body_len || body[i] == ',') {
            if (nfields == 4) {
                too_many = 1;
                break;
            }
            field[nfields] = body + start;
            flen[nfields] = i - start;
            nfields++;
            start = i + 1;
        }
    }
    uint32_t seq;
    if (parse_uint(field[0], flen[0], 65535, &seq) != 0) return PARSE_BAD_SYNTAX;
    if (nfields < 2 || flen[1] == 0) return PARSE_BAD_SYNTAX;
    out->seq = (uint16_t)seq;
    out->body_crc = proto_crc16(body, body_len);
    out->value = 0;
    const char *type = field[1];
    size_t tlen = flen[1];
    uint8_t nargs = too_many ? 3 : (uint8_t)(nfields - 2);
    if (field_is(type, tlen, "UNLOCK") || field_is(type, tlen, "RESET")) {
        out->type = field_is(type, tlen, "UNLOCK") ? CMD_UNLOCK : CMD_RESET;
        if (nargs != 1 || parse_uint(field[2], flen[2], 0xFFFFFFFFUL, &out->value) != 0) return PARSE_BAD_ARGS;
        return PARSE_OK;
    }
    if (field_is(type, tlen, "LED")) {
        out->type = CMD_LED;
        if (nargs != 1) return PARSE_BAD_ARGS;
        if (field_is(field[2], flen[2], "OFF")) out->value = LED_OFF;
        else if (field_is(field[2], flen[2], "ON")) out->value = LED_ON;
        else if (field_is(field[2], flen[2], "BLINK")) out->value = LED_BLINK;
        else return PARSE_BAD_ARGS;
        return PARSE_OK;
    }
    if (field_is(type, tlen, "STATUS")) {
        out->type = CMD_STATUS;
        return nargs == 0 ? PARSE_OK : PARSE_BAD_ARGS;
    }
    return PARSE_UNKNOWN_TYPE;
}

static void append(frame_t *f, const char *s, size_t n) {
    if (f->overflow || (size_t)f->len + n > PROTO_MAX_LINE) {
        f->overflow = 1;
        return;
    }
    memcpy(f->buf + f->len, s, n);
    f->len = (uint8_t)(f->len + n);
    f->buf[f->len] = '\0';
}

static void append_uint(frame_t *f, uint32_t v) {
    char digits[10];
    uint8_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    char out[10];
    for (uint8_t i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    append(f, out, n);
}

void proto_begin(frame_t *f, uint16_t seq, const char *type) {
    f->len = 0;
    f->overflow = 0;
    f->buf[0] = '\0';
    append(f, "$", 1);
    append_uint(f, seq);
    proto_add_text(f, type);
}

void proto_add_text(frame_t *f, const char *text) {
    append(f, ",", 1);
    append(f, text, strlen(text));
}

void proto_add_uint(frame_t *f, uint32_t value) {
    append(f, ",", 1);
    append_uint(f, value);
}

uint8_t proto_finish(frame_t *f, uint8_t version) {
    static const char hex[] = "0123456789ABCDEF";
    uint8_t digits = version == 1 ? 2 : 4;
    uint16_t cs = version == 1 ? proto_xor(f->buf + 1, (size_t)f->len - 1) : proto_crc16(f->buf + 1, (size_t)f->len - 1);
    char tail[6];
    tail[0] = '*';
    for (uint8_t i = 0; i < digits; i++) tail[1 + i] = hex[(cs >> (4 * (digits - 1 - i))) & 0xF];
    tail[1 + digits] = '\n';
    append(f, tail, (size_t)digits + 2);
    return f->overflow ? 0 : f->len;
}
