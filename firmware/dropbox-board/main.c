/*
 * Drop-box board firmware: sensors in, frames out (CONTRACT §3). One 1 ms timer tick
 * samples and debounces every input and keeps time; the main loop turns what the tick
 * saw into frames, reads commands from the UART and saves the count. The watchdog
 * restarts the board if the main loop ever stops coming round.
 */
#include <avr/eeprom.h>
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>
#include <avr/wdt.h>
#include <util/delay.h>
#include <string.h>

#include "board.h"
#include "countstore.h"
#include "protocol.h"

#define BAUD 115200UL
#define RX_RING 256 /* uint8_t indices wrap round it */
#define SETTLE_MS 2 /* pull-ups and input RC filters settle before the first reading */

/* ---- what the tick sees (shared with the ISR) ---------------------------------- */

enum { IN_SLOT, IN_DROP, IN_DOOR, IN_SHOCK, IN_TILT, IN_CASE, IN_KEY, INPUTS };

typedef struct {
    uint8_t level;    /* debounced: 1 = active (pin low) */
    uint8_t raw;
    uint8_t stable_ms;
    uint8_t changed;  /* set by the tick, cleared by the main loop */
} input_t;

static volatile input_t inputs[INPUTS];
static volatile uint32_t millis_now;
static volatile uint16_t drops_pending; /* envelopes that fell, not yet saved */
static volatile uint8_t rx_ring[RX_RING];
static volatile uint8_t rx_head, rx_tail;
static volatile uint8_t rx_overruns, rx_line_errors;
#define TX_RING 128 /* a power of two */
static volatile uint8_t tx_ring[TX_RING];
static volatile uint8_t tx_head, tx_tail;
static volatile uint32_t relay_until;
static volatile uint8_t relay_on;
static volatile uint8_t led_mode;

/* Line counters, by parse result; the emulation harness reads them from RAM. */
volatile uint16_t rx_stats[PARSE_REASONS + 3] __attribute__((used));
#define STAT_OVERRUN PARSE_REASONS           /* bytes lost: the receive ring was full */
#define STAT_NAKS (PARSE_REASONS + 1)
#define STAT_LINE_ERRORS (PARSE_REASONS + 2) /* framing or overrun flags from the UART */

static uint8_t read_pin(uint8_t which) {
    switch (which) {
    case IN_SLOT: return !(PIND & _BV(PIN_SLOT_BEAM));
    case IN_DROP: return !(PIND & _BV(PIN_DROP_BEAM));
    case IN_DOOR: return (PIND & _BV(PIN_DOOR)) != 0; /* active = open */
    case IN_SHOCK: return !(PIND & _BV(PIN_SHOCK));
    case IN_TILT: return !(PIND & _BV(PIN_TILT));
    case IN_CASE: return !(PIND & _BV(PIN_CASE));
    default: return !(PINB & _BV(PIN_KEY));
    }
}

ISR(TIMER1_COMPA_vect) {
    millis_now++;
    for (uint8_t i = 0; i < INPUTS; i++) {
        volatile input_t *in = &inputs[i];
        uint8_t raw = read_pin(i);
        if (raw != in->raw) {
            in->raw = raw;
            in->stable_ms = 0;
            continue;
        }
        uint8_t needed = i == IN_DROP ? DROP_DEBOUNCE_MS : DEBOUNCE_MS;
        if (in->stable_ms < needed) {
            in->stable_ms++;
            if (in->stable_ms == needed && raw != in->level) {
                in->level = raw;
                in->changed = 1;
                /* An envelope is counted when it has left the beam: once, however
                 * long it took to fall, and a power cut while it is in the beam
                 * leaves it to be counted after the reboot. */
                if (i == IN_DROP && !raw) drops_pending++;
            }
        }
    }
    if (relay_on && (int32_t)(millis_now - relay_until) >= 0) {
        relay_on = 0;
        PORTB &= ~_BV(PIN_RELAY);
    }
    if (led_mode == LED_BLINK) {
        if (millis_now % LED_BLINK_HALF_MS == 0) PORTB ^= _BV(PIN_LED);
    }
}

ISR(USART_RX_vect) {
    uint8_t status = UCSR0A;
    uint8_t byte = UDR0;
    uint8_t next = (uint8_t)(rx_head + 1);
    if (status & (_BV(FE0) | _BV(DOR0))) rx_line_errors++;
    if (next == rx_tail) {
        rx_overruns++;
        return;
    }
    rx_ring[rx_head] = byte;
    rx_head = next;
}

/* Sends the next queued byte; the interrupt is on only while bytes are queued. */
ISR(USART_UDRE_vect) {
    if (tx_tail == tx_head) {
        UCSR0B &= ~_BV(UDRIE0);
        return;
    }
    UDR0 = tx_ring[tx_tail];
    tx_tail = (uint8_t)((tx_tail + 1) & (TX_RING - 1));
}

/* Idles the CPU until the next interrupt (the 1 ms tick at the latest): waiting for
 * the UART or the EEPROM this way instead of spinning also lets the emulator skip
 * the wait. */
static void idle_until_interrupt(void) {
    sleep_enable();
    sleep_cpu();
    sleep_disable();
}

static uint32_t millis(void) {
    uint32_t m;
    cli();
    m = millis_now;
    sei();
    return m;
}

/* ---- the wire --------------------------------------------------------------------- */

static uint16_t tx_seq;

static void uart_put(uint8_t byte) {
    uint8_t next = (uint8_t)((tx_head + 1) & (TX_RING - 1));
    while (next == tx_tail) idle_until_interrupt(); /* full: the UDRE interrupt makes room */
    tx_ring[tx_head] = byte;
    tx_head = next;
    UCSR0B |= _BV(UDRIE0);
}

static void send(frame_t *f) {
    uint8_t n = proto_finish(f, PROTOCOL_VERSION);
    for (uint8_t i = 0; i < n; i++) uart_put((uint8_t)f->buf[i]);
}

static frame_t *begin(frame_t *f, const char *type) {
    proto_begin(f, tx_seq, type);
    tx_seq++; /* 65535 wraps to 0 */
    return f;
}

static void send_text(const char *type, const char *arg) {
    frame_t f;
    proto_add_text(begin(&f, type), arg);
    send(&f);
}

static void send_uint(const char *type, uint32_t value) {
    frame_t f;
    proto_add_uint(begin(&f, type), value);
    send(&f);
}

/* ---- the count ------------------------------------------------------------------- */

static uint8_t ee_read(uint16_t addr) { return eeprom_read_byte((const uint8_t *)(uintptr_t)addr); }
static void ee_write(uint16_t addr, uint8_t value) {
    while (!eeprom_is_ready()) idle_until_interrupt(); /* a byte takes 3.4 ms to write */
    eeprom_update_byte((uint8_t *)(uintptr_t)addr, value);
}
static const eeprom_io_t eeprom_io = {ee_read, ee_write};
static countstore_t store;

/* ---- state frames --------------------------------------------------------------- */

static uint8_t fill_percent;
static uint8_t fill_candidate, fill_candidate_samples;
static uint32_t boot_ms;

static void send_hb(void) {
    frame_t f;
    proto_add_uint(begin(&f, "HB"), (millis() - boot_ms) / 1000);
    proto_add_uint(&f, store.count);
    send(&f);
}

static void send_door(void) { send_text("DOOR", inputs[IN_DOOR].level ? "OPEN" : "CLOSED"); }
static void send_slot(void) { send_text("SLOT", inputs[IN_SLOT].level ? "1" : "0"); }
static void send_fill(void) { send_uint("FILL", fill_percent); }

static uint16_t adc_read_mv(void) {
    ADCSRA |= _BV(ADSC);
    while (ADCSRA & _BV(ADSC)) {
    }
    return (uint16_t)(((uint32_t)ADC * 5000UL) / 1023UL);
}

/* The sensor's voltage as a bin level in FILL_STEP steps, 0..100. */
static uint8_t fill_from_mv(uint16_t mv) {
    if (mv <= FILL_EMPTY_MV) return 0;
    if (mv >= FILL_FULL_MV) return 100;
    uint32_t percent = ((uint32_t)(mv - FILL_EMPTY_MV) * 100UL) / (FILL_FULL_MV - FILL_EMPTY_MV);
    return (uint8_t)((percent / FILL_STEP) * FILL_STEP);
}

static void sample_fill(uint8_t announce) {
    uint8_t level = fill_from_mv(adc_read_mv());
    if (!announce) {
        fill_percent = fill_candidate = level;
        return;
    }
    if (level != fill_candidate) {
        fill_candidate = level;
        fill_candidate_samples = 0;
    } else if (level != fill_percent && ++fill_candidate_samples >= FILL_HOLD_SAMPLES) {
        fill_percent = level;
        send_fill();
    }
}

/* ---- commands -------------------------------------------------------------------- */

#define LINE_MAX (PROTO_MAX_LINE - 1) /* bytes before '\n' */
static char line[LINE_MAX];
static uint8_t line_len;
static uint8_t line_too_long;

/* The last command carried out: a resend (same seq, same body, straight after it and
 * within REPEAT_WINDOW_MS) is answered again without being carried out twice (a RESET
 * whose ACK was lost must not NAK). Any other command in between, STATUS included (a
 * restarted controller sends it first), ends the window: its seq may start again. */
static uint8_t have_last;
static uint16_t last_seq, last_crc;
static uint32_t last_at;
static uint8_t last_acked;
static const char *last_nak;

static void answer(const command_t *c, const char *nak_reason) {
    frame_t f;
    if (nak_reason) {
        proto_add_uint(begin(&f, "NAK"), c->seq);
        proto_add_text(&f, nak_reason);
        rx_stats[STAT_NAKS]++;
    } else {
        proto_add_uint(begin(&f, "ACK"), c->seq);
    }
    send(&f);
}

static const char *carry_out(const command_t *c) {
    switch (c->type) {
    case CMD_UNLOCK: {
        uint32_t ms = c->value > UNLOCK_MAX_MS ? UNLOCK_MAX_MS : c->value;
        cli();
        relay_until = millis_now + ms;
        relay_on = ms > 0;
        if (relay_on) PORTB |= _BV(PIN_RELAY);
        else PORTB &= ~_BV(PIN_RELAY);
        sei();
        return 0;
    }
    case CMD_RESET:
        if (c->value != store.count) return "COUNT_MISMATCH";
        if (store.count != 0) countstore_save(&store, &eeprom_io, 0);
        return 0;
    case CMD_LED:
        cli();
        led_mode = (uint8_t)c->value;
        if (c->value == LED_ON) PORTB |= _BV(PIN_LED);
        else PORTB &= ~_BV(PIN_LED);
        sei();
        return 0;
    default:
        return 0;
    }
}

static void handle_line(void) {
    command_t c;
    parse_result_t r = proto_parse_command(line, line_len, PROTOCOL_VERSION, &c);
    rx_stats[r]++;
    if (r == PARSE_UNKNOWN_TYPE || r == PARSE_BAD_ARGS) have_last = 0;
    if (r == PARSE_UNKNOWN_TYPE) {
        answer(&c, "UNKNOWN_COMMAND");
        return;
    }
    if (r == PARSE_BAD_ARGS) {
        answer(&c, "BAD_ARGS");
        return;
    }
    if (r != PARSE_OK) return; /* no checksum to trust, so no seq to answer */
    if (c.type == CMD_STATUS) {
        have_last = 0;
        send_hb();
        send_door();
        send_fill();
        send_slot();
        return;
    }
    if (have_last && c.seq == last_seq && c.body_crc == last_crc && millis() - last_at <= REPEAT_WINDOW_MS) {
        answer(&c, last_acked ? 0 : last_nak);
        return;
    }
    const char *nak = carry_out(&c);
    have_last = 1;
    last_at = millis();
    last_seq = c.seq;
    last_crc = c.body_crc;
    last_acked = nak == 0;
    last_nak = nak;
    answer(&c, nak);
}

static void read_uart(void) {
    while (rx_tail != rx_head) {
        uint8_t byte = rx_ring[rx_tail];
        rx_tail = (uint8_t)(rx_tail + 1);
        if (byte == '\n') {
            if (line_too_long) rx_stats[PARSE_TOO_LONG]++;
            else handle_line();
            line_len = 0;
            line_too_long = 0;
        } else if (line_len < LINE_MAX) {
            line[line_len++] = (char)byte;
        } else {
            line_too_long = 1; /* the rest of the line is dropped, up to its '\n' */
        }
    }
    if (rx_overruns || rx_line_errors) {
        cli();
        rx_stats[STAT_OVERRUN] += rx_overruns;
        rx_stats[STAT_LINE_ERRORS] += rx_line_errors;
        rx_overruns = rx_line_errors = 0;
        sei();
    }
}

/* ---- start-up and the loop ------------------------------------------------------ */

/* A main loop that never comes round again, with interrupts still running: what the
 * watchdog is for. Nothing calls it; the emulation harness jumps here to test that
 * the watchdog restarts the board. */
void debug_hang(void) __attribute__((used, noinline, noreturn));
void debug_hang(void) {
    for (;;) {
    }
}

/* The watchdog stays on across a watchdog reset: turn it off before anything else. */
void early_wdt_off(void) __attribute__((naked, used, section(".init3")));
void early_wdt_off(void) {
    MCUSR = 0;
    wdt_disable();
}

static void hardware_init(void) {
    DDRD = 0;
    PORTD = _BV(PIN_SLOT_BEAM) | _BV(PIN_DROP_BEAM) | _BV(PIN_DOOR) | _BV(PIN_SHOCK) | _BV(PIN_TILT) | _BV(PIN_CASE);
    DDRB = _BV(PIN_RELAY) | _BV(PIN_LED);
    PORTB = _BV(PIN_KEY); /* relay and LED off */

    UCSR0A = _BV(U2X0);
    UBRR0 = (uint16_t)((F_CPU / (8UL * BAUD)) - 1);
    UCSR0B = _BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0);
    UCSR0C = _BV(UCSZ01) | _BV(UCSZ00); /* 8N1 */

    ADMUX = _BV(REFS0) | FILL_ADC_CHANNEL; /* AVCC reference */
    ADCSRA = _BV(ADEN) | _BV(ADPS2) | _BV(ADPS1) | _BV(ADPS0); /* 125 kHz */

    TCCR1A = 0;
    TCCR1B = _BV(WGM12) | _BV(CS11) | _BV(CS10); /* CTC, /64 */
    OCR1A = (uint16_t)(F_CPU / 64 / 1000 - 1);   /* 1 ms */
    TIMSK1 = _BV(OCIE1A);
}

int main(void) {
    hardware_init();
    _delay_ms(SETTLE_MS);
    for (uint8_t i = 0; i < INPUTS; i++) {
        /* Start from the levels as they are: a door already open or an envelope already
         * in the chute at power-on is no new event (the envelope still counts when it
         * leaves the beam). */
        inputs[i].raw = inputs[i].level = read_pin(i);
        inputs[i].stable_ms = i == IN_DROP ? DROP_DEBOUNCE_MS : DEBOUNCE_MS;
    }
    countstore_load(&store, &eeprom_io);
    sample_fill(0);
    set_sleep_mode(SLEEP_MODE_IDLE);
    wdt_enable(WDTO_500MS);
    sei();

    frame_t f;
    proto_add_uint(begin(&f, "HELLO"), PROTOCOL_VERSION);
    proto_add_text(&f, FIRMWARE_VERSION);
    proto_add_text(&f, BOARD_ID);
    send(&f);
    boot_ms = millis();
    uint32_t next_hb = boot_ms + HEARTBEAT_MS;
    uint32_t next_fill = boot_ms + FILL_SAMPLE_MS;

    for (;;) {
        wdt_reset();
        read_uart();

        for (;;) {
            cli();
            uint16_t pending = drops_pending;
            if (pending) drops_pending = (uint16_t)(pending - 1);
            sei();
            if (!pending) break;
            countstore_save(&store, &eeprom_io, store.count + 1); /* on EEPROM before it is told */
            send_uint("DROP", store.count);
        }
        for (uint8_t i = 0; i < INPUTS; i++) {
            if (!inputs[i].changed) continue;
            inputs[i].changed = 0;
            uint8_t active = inputs[i].level;
            switch (i) {
            case IN_SLOT: send_slot(); break;
            case IN_DOOR: send_door(); break;
            case IN_SHOCK: if (active) send_text("TAMPER", "SHOCK"); break;
            case IN_TILT: if (active) send_text("TAMPER", "TILT"); break;
            case IN_CASE: if (active) send_text("TAMPER", "CASE"); break;
            case IN_KEY: send_text("KEY", active ? "ON" : "OFF"); break;
            default: break;
            }
        }
        uint32_t now = millis();
        if ((int32_t)(now - next_fill) >= 0) {
            next_fill += FILL_SAMPLE_MS;
            sample_fill(1);
        }
        if ((int32_t)(now - next_hb) >= 0) {
            next_hb += HEARTBEAT_MS;
            send_hb();
        }
        /* Sleep until the next interrupt (the 1 ms tick at the latest), unless one
         * came in while we were busy. */
        cli();
        if (rx_tail == rx_head && !drops_pending) {
            sleep_enable();
            sei(); /* the instruction after sei runs before any interrupt: no wake-up is lost */
            sleep_cpu();
            sleep_disable();
        }
        sei();
    }
}
