/*
 * Drop-box board protocol (CONTRACT §3), the board's side: checksums, the command
 * parser and the frame formatter. Pure C with no AVR headers, so the host tests
 * compile it with gcc and check it against the vectors the TypeScript tests read.
 */
#ifndef DROPBOX_PROTOCOL_H
#define DROPBOX_PROTOCOL_H

#include <stdint.h>
#include <stddef.h>

#define PROTO_MAX_LINE 120 /* bytes on the wire, terminator included */

#ifndef PROTOCOL_VERSION
#define PROTOCOL_VERSION 2
#endif

typedef enum {
    PARSE_OK = 0,
    PARSE_TOO_LONG,
    PARSE_NOT_ASCII,
    PARSE_BAD_SYNTAX,
    PARSE_BAD_CHECKSUM,
    PARSE_UNKNOWN_TYPE,
    PARSE_BAD_ARGS,
    PARSE_REASONS
} parse_result_t;

typedef enum { CMD_UNLOCK, CMD_RESET, CMD_LED, CMD_STATUS } command_type_t;
typedef enum { LED_OFF, LED_ON, LED_BLINK } led_mode_t;

typedef struct {
    uint16_t seq;
    command_type_t type;
    uint32_t value;  /* UNLOCK ms, RESET dropCount, LED mode */
    uint16_t body_crc; /* CRC of the body: tells a resend from a new command */
} command_t;

uint8_t proto_xor(const char *bytes, size_t len);
uint16_t proto_crc16(const char *bytes, size_t len);

/* Reason names as the TypeScript parser spells them (bad_checksum, ...). */
const char *proto_reason_name(parse_result_t r);

/*
 * Parses one line without its '\n' (a trailing '\r' is ignored). `wire_len` is the
 * line's length on the wire with its terminator, for the 120-byte limit. When the
 * result is UNKNOWN_TYPE or BAD_ARGS, out->seq is valid (the checksum held), so the
 * command can be NAK'd.
 */
parse_result_t proto_parse_command(const char *line, size_t len, uint8_t version, command_t *out);

/* A frame under construction: "$<seq>,<TYPE>[,<arg>...]" then proto_finish. */
typedef struct {
    char buf[PROTO_MAX_LINE + 1];
    uint8_t len;
    uint8_t overflow;
} frame_t;

void proto_begin(frame_t *f, uint16_t seq, const char *type);
void proto_add_text(frame_t *f, const char *text);
void proto_add_uint(frame_t *f, uint32_t value);
/* Appends "*CS\n" in `version`; returns the line length, 0 if it would not fit. */
uint8_t proto_finish(frame_t *f, uint8_t version);

#endif
