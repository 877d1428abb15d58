/*
 * The drop-box firmware on an emulated ATmega328P (simavr), wired to the world:
 *
 *   UART0  <->  a pseudo-terminal; --link PATH is a symlink to its slave end, which
 *               the controller opens as the board's serial port. Our own PTY bridge on
 *               the UART's IRQs (not simavr's uart_pty part: that one runs its own
 *               thread, links a fixed /tmp name, and cannot unplug and replug).
 *   pins, ADC <- a control socket (--control PATH, Unix stream, one text command per
 *               line, one reply line each): see the `commands` table below.
 *   EEPROM  <->  --eeprom FILE, loaded at start, saved on every power cut and at exit,
 *               so the count survives power cuts as it does on the real chip.
 *
 * The emulated clock is held to the wall clock (the firmware sleeps between its 1 ms
 * ticks, so the emulation idles most of the time), so the firmware's heartbeat is 1 s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <simavr/avr_adc.h>
#include <simavr/avr_eeprom.h>
#include <simavr/avr_ioport.h>
#include <simavr/avr_uart.h>
#include <simavr/sim_avr.h>
#include <simavr/sim_elf.h>

#define FREQUENCY 16000000UL
#define EEPROM_BYTES 1024
#define MAX_CLIENTS 4
#define CMD_MAX 256
#define TX_BUF 8192
#define RX_BUF 8192
/* How far the emulation may run ahead of the wall clock before it waits. */
#define AHEAD_NS 1000000LL
/* Poll the descriptors at least this often in emulated cycles while the firmware is busy. */
#define POLL_EVERY_CYCLES (FREQUENCY / 1000)

static avr_t *avr;
static const char *link_path, *eeprom_path;
static int master_fd = -1, slave_fd = -1;
static int listen_fd = -1;
static int clients[MAX_CLIENTS];
static char client_buf[MAX_CLIENTS][CMD_MAX];
static size_t client_len[MAX_CLIENTS];
static uint8_t tx_buf[TX_BUF];
static size_t tx_len;
static uint8_t rx_buf[RX_BUF];
static size_t rx_head, rx_len;
/* Received bytes go to the UART at its line speed, as simavr times it (it counts 11
 * bits a byte), at most RX_AHEAD_BYTES ahead of it, so its 64-byte input FIFO never
 * overflows. Until the firmware has set the baud rate, 115200 with 11 bits. */
#define DEFAULT_UART_CYCLES_PER_BYTE (FREQUENCY * 11 / 115200)
/* 5 % slower than the UART reads, as a sender whose stop bits run a little long. */
#define UART_CYCLES_PER_BYTE ((uart_cycles_per_byte() ? uart_cycles_per_byte() : DEFAULT_UART_CYCLES_PER_BYTE) * 21 / 20)
#define RX_AHEAD_BYTES 1
static avr_cycle_count_t next_feed_cycle;
static int powered = 1;
static volatile sig_atomic_t stopping;
static unsigned long stats_addr, hang_addr;
static uint8_t eeprom_copy[EEPROM_BYTES];
static long long wall_origin_ns;
/* The inputs are driven again this long after a reset, once the firmware has set its pull-ups. */
#define REDRIVE_AFTER_RESET_CYCLES (FREQUENCY / 2000)
static avr_cycle_count_t redrive_at;
static avr_cycle_count_t cycle_origin;
static unsigned long long tx_bytes, rx_bytes, tx_dropped;
/* When the last DROP line was handed to the PTY (CLOCK_MONOTONIC ns, as Node's
 * process.hrtime), for the frame -> fsync benchmark. */
static char tx_line[32];
static size_t tx_line_len;
static long long last_drop_line_ns;
static unsigned long drop_lines;

/* Inputs by name: port, bit, and the pin level when the input is active. */
struct input {
    const char *name;
    char port;
    int bit;
    int active_level;
    int active;
};
static struct input inputs[] = {
    {"slot", 'D', 2, 0, 0},  {"drop", 'D', 3, 0, 0}, {"door", 'D', 4, 1, 0}, {"shock", 'D', 5, 0, 0},
    {"tilt", 'D', 6, 0, 0},  {"case", 'D', 7, 0, 0}, {"key", 'B', 0, 0, 0},
};
#define INPUT_COUNT (sizeof inputs / sizeof inputs[0])
static unsigned fill_mv = 500;

/*
 * Timed input changes, in emulated time (so a busy host cannot squeeze a pulse to
 * nothing): groups of up to MAX_STEPS steps "input = level, then hold ms", each group
 * repeated `repeat` times, played in order. An envelope through the slot and down the
 * chute is one group of four steps.
 */
#define MAX_STEPS 8
#define MAX_GROUPS 64
struct step {
    int input;
    int active;
    unsigned hold_ms;
};
struct group {
    struct step steps[MAX_STEPS];
    int count;
    unsigned long repeat;
};
static struct group groups[MAX_GROUPS];
static int group_head, group_len;
static int step_at;
static avr_cycle_count_t step_due;
static unsigned long steps_played;

/* Outputs read back. */
static int relay_level, led_level;
static unsigned long relay_activations, led_changes;
static avr_cycle_count_t relay_on_cycle;
static unsigned long relay_last_on_ms;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "dropbox-sim: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (link_path) unlink(link_path);
    exit(1);
}

/* ---- PTY: the cable ----------------------------------------------------------- */

static void plug(void) {
    if (master_fd >= 0) return;
    master_fd = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (master_fd < 0 || grantpt(master_fd) || unlockpt(master_fd)) die("cannot open a pseudo-terminal: %s", strerror(errno));
    const char *name = ptsname(master_fd);
    /* We hold the slave open too, so a controller closing its end is no hang-up for us. */
    slave_fd = open(name, O_RDWR | O_NOCTTY);
    if (slave_fd < 0) die("cannot open %s: %s", name, strerror(errno));
    struct termios t;
    tcgetattr(slave_fd, &t);
    cfmakeraw(&t);
    tcsetattr(slave_fd, TCSANOW, &t);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", link_path, getpid());
    unlink(tmp);
    if (symlink(name, tmp) || rename(tmp, link_path)) die("cannot link %s: %s", link_path, strerror(errno));
    rx_len = rx_head = 0;
}

static void unplug(void) {
    if (master_fd < 0) return;
    unlink(link_path);
    close(slave_fd);
    close(master_fd);
    master_fd = slave_fd = -1;
    tx_len = 0;
}

static void flush_tx(void) {
    if (master_fd < 0 || tx_len == 0) {
        tx_dropped += master_fd < 0 ? tx_len : 0;
        if (master_fd < 0) tx_len = 0;
        return;
    }
    ssize_t n = write(master_fd, tx_buf, tx_len);
    for (ssize_t i = 0; i < n; i++) {
        if (tx_buf[i] != '\n') {
            if (tx_line_len < sizeof tx_line - 1) tx_line[tx_line_len++] = (char)tx_buf[i];
            continue;
        }
        tx_line[tx_line_len] = '\0';
        if (strstr(tx_line, ",DROP,")) {
            last_drop_line_ns = now_ns();
            drop_lines++;
        }
        tx_line_len = 0;
    }
    if (n > 0) {
        memmove(tx_buf, tx_buf + n, tx_len - (size_t)n);
        tx_len -= (size_t)n;
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        tx_dropped += tx_len;
        tx_len = 0;
    }
}

static void uart_out_hook(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)param;
    if (tx_len == TX_BUF) {
        tx_dropped++; /* nobody reading: a real UART loses it too */
        return;
    }
    tx_buf[tx_len++] = (uint8_t)value;
    tx_bytes++;
}

static avr_irq_t *uart_in_irq;
static unsigned long uart_cycles_per_byte(void);

/* Hands received bytes to the UART at its line speed. Called from the main loop only,
 * never from the sleep callback: simavr moves the clock past the sleep after it, and a
 * byte raised then would be late for its own receive interrupt (an overrun). */
static void feed_uart(void) {
    avr_irq_t *in = uart_in_irq;
    if (next_feed_cycle < avr->cycle) next_feed_cycle = avr->cycle;
    while (powered && rx_len > 0 && next_feed_cycle <= avr->cycle + RX_AHEAD_BYTES * UART_CYCLES_PER_BYTE) {
        next_feed_cycle += UART_CYCLES_PER_BYTE;
        avr_raise_irq(in, rx_buf[rx_head]);
        rx_head = (rx_head + 1) % RX_BUF;
        rx_len--;
        rx_bytes++;
    }
}

static void read_pty(void) {
    if (master_fd < 0) return;
    while (rx_len < RX_BUF) {
        uint8_t chunk[512];
        size_t room = RX_BUF - rx_len;
        ssize_t n = read(master_fd, chunk, room < sizeof chunk ? room : sizeof chunk);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) rx_buf[(rx_head + rx_len + (size_t)i) % RX_BUF] = chunk[i];
        rx_len += (size_t)n;
    }
}

/* ---- pins, ADC, EEPROM -------------------------------------------------------- */

static void drive_input(struct input *in) {
    avr_irq_t *irq = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(in->port), in->bit);
    int level = in->active ? in->active_level : !in->active_level;
    /* simavr notifies only on a change, and the firmware's pull-up writes can hide
     * our level: raise the other level first (for no emulated time at all, so the
     * firmware never samples it), then ours. */
    avr_raise_irq(irq, (uint32_t)!level);
    avr_raise_irq(irq, (uint32_t)level);
}

static void drive_all(void) {
    for (size_t i = 0; i < INPUT_COUNT; i++) drive_input(&inputs[i]);
    avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0), fill_mv);
}

static void relay_hook(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq; (void)param;
    int level = value != 0;
    if (level == relay_level) return;
    relay_level = level;
    if (level) {
        relay_activations++;
        relay_on_cycle = avr->cycle;
    } else {
        relay_last_on_ms = (unsigned long)((avr->cycle - relay_on_cycle) / (FREQUENCY / 1000));
    }
}

static void led_hook(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq; (void)param;
    int level = value != 0;
    if (level != led_level) led_changes++;
    led_level = level;
}

static void eeprom_io(int set) {
    avr_eeprom_desc_t d = {.ee = eeprom_copy, .offset = 0, .size = EEPROM_BYTES};
    avr_ioctl(avr, set ? AVR_IOCTL_EEPROM_SET : AVR_IOCTL_EEPROM_GET, &d);
    if (!set && d.ee != eeprom_copy) memcpy(eeprom_copy, d.ee, EEPROM_BYTES);
}

static void save_eeprom(void) {
    if (!powered) return; /* already saved at the cut */
    eeprom_io(0);
    if (!eeprom_path) return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", eeprom_path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return;
    size_t ok = fwrite(eeprom_copy, 1, EEPROM_BYTES, f);
    if (fclose(f) == 0 && ok == EEPROM_BYTES) rename(tmp, eeprom_path);
}

static void load_eeprom(void) {
    memset(eeprom_copy, 0xFF, EEPROM_BYTES); /* an erased chip */
    if (eeprom_path) {
        FILE *f = fopen(eeprom_path, "rb");
        if (f) {
            if (fread(eeprom_copy, 1, EEPROM_BYTES, f) != EEPROM_BYTES) memset(eeprom_copy, 0xFF, EEPROM_BYTES);
            fclose(f);
        }
    }
    eeprom_io(1);
}

static void sync_clock(void) {
    wall_origin_ns = now_ns();
    cycle_origin = avr->cycle;
}

static void power_on(void) {
    avr_reset(avr);
    eeprom_io(1);
    relay_level = led_level = 0;
    drive_all();
    redrive_at = avr->cycle + REDRIVE_AFTER_RESET_CYCLES;
    step_due = avr->cycle; /* a reset may restart the cycle count */
    powered = 1;
    next_feed_cycle = avr->cycle;
    sync_clock();
}

static void power_off(void) {
    save_eeprom();
    powered = 0;
    tx_len = 0;
    relay_level = led_level = 0; /* no power, no relay */
}

static void play_steps(void) {
    while (group_len > 0 && avr->cycle >= step_due) {
        struct group *g = &groups[group_head];
        struct step *st = &g->steps[step_at];
        inputs[st->input].active = st->active;
        drive_input(&inputs[st->input]);
        steps_played++;
        step_due = avr->cycle + (avr_cycle_count_t)st->hold_ms * (FREQUENCY / 1000);
        if (++step_at < g->count) continue;
        step_at = 0;
        if (--g->repeat > 0) continue;
        group_head = (group_head + 1) % MAX_GROUPS;
        group_len--;
    }
}

/* ---- control channel --------------------------------------------------------- */

static void reply(int fd, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t ignored = write(fd, line, (size_t)n);
    (void)ignored;
}

/* simavr's own figure for the UART's byte time, once the firmware has set the baud rate. */
static unsigned long uart_cycles_per_byte(void) {
    static avr_uart_t *uart;
    for (avr_io_t *io = avr->io_port; !uart && io; io = io->next) {
        if (io->kind && !strcmp(io->kind, "uart") && ((avr_uart_t *)io)->name == '0') uart = (avr_uart_t *)io;
    }
    return uart ? (unsigned long)uart->cycles_per_byte : 0;
}

static void state_reply(int fd) {
    char stats[256] = "";
    size_t used = 0;
    for (int i = 0; i < 10 && stats_addr; i++) {
        unsigned long a = stats_addr - 0x800000UL + (unsigned long)(2 * i);
        unsigned v = (unsigned)avr->data[a] | ((unsigned)avr->data[a + 1] << 8);
        used += (size_t)snprintf(stats + used, sizeof stats - used, "%s%u", i ? "," : "", v);
    }
    unsigned long long ms = (avr->cycle) / (FREQUENCY / 1000);
    reply(fd, "ok dropLines=%lu lastDropLineNs=%lld uartCyclesPerByte=%lu queued=%d stepsPlayed=%lu powered=%d plugged=%d relay=%d relayActivations=%lu relayLastOnMs=%lu led=%d ledChanges=%lu fillMv=%u cycleMs=%llu txBytes=%llu rxBytes=%llu txDropped=%llu stats=%s",
          drop_lines, last_drop_line_ns, uart_cycles_per_byte(), group_len, steps_played, powered, master_fd >= 0, relay_level, relay_activations, relay_last_on_ms, led_level, led_changes, fill_mv, ms, tx_bytes,
          rx_bytes, tx_dropped, stats);
}

static int input_by_name(const char *name) {
    for (size_t i = 0; i < INPUT_COUNT; i++)
        if (!strcmp(inputs[i].name, name)) return (int)i;
    return -1;
}

/* queue <repeat> <input>:<0|1>:<holdMs> ... */
static void queue_group(int fd, char *rest) {
    if (group_len == MAX_GROUPS) return reply(fd, "error queue full");
    struct group g = {.count = 0};
    char *save = NULL;
    char *tok = strtok_r(rest, " \t\r", &save);
    g.repeat = tok ? strtoul(tok, NULL, 10) : 0;
    if (g.repeat == 0) return reply(fd, "error queue needs a repeat count");
    while ((tok = strtok_r(NULL, " \t\r", &save)) != NULL) {
        char name[16];
        int active;
        unsigned hold;
        if (g.count == MAX_STEPS || sscanf(tok, "%15[a-z]:%d:%u", name, &active, &hold) != 3) return reply(fd, "error bad step %s", tok);
        int input = input_by_name(name);
        if (input < 0) return reply(fd, "error unknown input %s", name);
        g.steps[g.count++] = (struct step){input, active != 0, hold};
    }
    if (g.count == 0) return reply(fd, "error queue needs steps");
    if (group_len == 0) step_due = avr->cycle;
    groups[(group_head + group_len) % MAX_GROUPS] = g;
    group_len++;
    reply(fd, "ok");
}

static void command(int fd, char *line) {
    if (!strncmp(line, "queue ", 6)) return queue_group(fd, line + 6);
    char *verb = strtok(line, " \t\r");
    char *arg1 = strtok(NULL, " \t\r");
    char *arg2 = strtok(NULL, " \t\r");
    if (!verb) return reply(fd, "error empty command");
    if (!strcmp(verb, "set") && arg1 && arg2) {
        for (size_t i = 0; i < INPUT_COUNT; i++) {
            if (strcmp(inputs[i].name, arg1)) continue;
            inputs[i].active = atoi(arg2) != 0;
            if (powered) drive_input(&inputs[i]);
            return reply(fd, "ok");
        }
        return reply(fd, "error unknown input %s", arg1);
    }
    if (!strcmp(verb, "fill-mv") && arg1) {
        fill_mv = (unsigned)atoi(arg1);
        if (fill_mv > 5000) fill_mv = 5000;
        if (powered) drive_all();
        return reply(fd, "ok");
    }
    if (!strcmp(verb, "power") && arg1) {
        if (!strcmp(arg1, "off") && powered) power_off();
        else if (!strcmp(arg1, "on") && !powered) power_on();
        return reply(fd, "ok");
    }
    if (!strcmp(verb, "unplug")) {
        unplug();
        return reply(fd, "ok");
    }
    if (!strcmp(verb, "replug")) {
        plug();
        return reply(fd, "ok");
    }
    if (!strcmp(verb, "hang")) {
        if (!hang_addr) return reply(fd, "error no debug_hang address");
        avr->pc = (avr_flashaddr_t)hang_addr;
        return reply(fd, "ok");
    }
    if (!strcmp(verb, "state")) return state_reply(fd);
    reply(fd, "error unknown command %s", verb);
}

static void accept_client(void) {
    int fd = accept(listen_fd, NULL, NULL);
    if (fd < 0) return;
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (clients[i] >= 0) continue;
        clients[i] = fd;
        client_len[i] = 0;
        fcntl(fd, F_SETFL, O_NONBLOCK);
        return;
    }
    close(fd);
}

static void read_client(int i) {
    char chunk[256];
    ssize_t n = read(clients[i], chunk, sizeof chunk);
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN) return;
        close(clients[i]);
        clients[i] = -1;
        return;
    }
    for (ssize_t k = 0; k < n; k++) {
        if (chunk[k] == '\n') {
            client_buf[i][client_len[i]] = '\0';
            command(clients[i], client_buf[i]);
            client_len[i] = 0;
        } else if (client_len[i] < CMD_MAX - 1) {
            client_buf[i][client_len[i]++] = chunk[k];
        }
    }
}

/* Waits up to timeout_ms for the PTY or the control socket, and serves them. */
static void serve(int timeout_ms) {
    struct pollfd fds[2 + MAX_CLIENTS];
    int n = 0;
    int pty_at = -1;
    if (master_fd >= 0) {
        pty_at = n;
        fds[n++] = (struct pollfd){.fd = master_fd, .events = (short)(POLLIN | (tx_len ? POLLOUT : 0))};
    }
    int listen_at = n;
    fds[n++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
    int client_at[MAX_CLIENTS];
    for (int i = 0; i < MAX_CLIENTS; i++) {
        client_at[i] = -1;
        if (clients[i] < 0) continue;
        client_at[i] = n;
        fds[n++] = (struct pollfd){.fd = clients[i], .events = POLLIN};
    }
    /* Bytes already received wait for the UART at its line speed: do not sleep past them. */
    if (rx_len > 0 && timeout_ms > 1) timeout_ms = 1;
    if (poll(fds, (nfds_t)n, timeout_ms) <= 0) {
        flush_tx();
        return;
    }
    if (pty_at >= 0 && (fds[pty_at].revents & POLLIN)) read_pty();
    flush_tx();
    if (fds[listen_at].revents & POLLIN) accept_client();
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (client_at[i] >= 0 && (fds[client_at[i]].revents & (POLLIN | POLLHUP))) read_client(i);
    }
}

/* How long until the emulation may run on (ms, 0 = now), holding it to the wall clock. */
static int wait_ms(void) {
    if (avr->cycle < cycle_origin) sync_clock();
    long long emulated_ns = (long long)((avr->cycle - cycle_origin) * 1000000000ULL / FREQUENCY);
    long long ahead = emulated_ns - (now_ns() - wall_origin_ns);
    if (ahead < -100000000LL) sync_clock(); /* fell behind (host busy): do not race to catch up */
    if (ahead <= AHEAD_NS) return 0;
    return (int)(ahead / 1000000LL);
}

static avr_cycle_count_t last_serve_cycle;

/*
 * Serves I/O when the emulation is ahead of the wall clock (waiting in poll until it
 * is time) or when a millisecond of emulated time has passed since the last time;
 * otherwise returns at once: the firmware sleeps between every byte it sends, and a
 * poll each time would cost more than the emulation itself.
 */
static avr_cycle_count_t last_check_cycle;
/* How often, in emulated cycles, the wall clock is looked at (0.1 ms). */
#define CHECK_EVERY_CYCLES (FREQUENCY / 10000)

static void maybe_serve(void) {
    if (avr->cycle >= last_check_cycle && avr->cycle - last_check_cycle < CHECK_EVERY_CYCLES) return;
    last_check_cycle = avr->cycle;
    int ms = wait_ms();
    if (ms == 0 && avr->cycle - last_serve_cycle < POLL_EVERY_CYCLES) return;
    last_serve_cycle = avr->cycle;
    serve(ms);
}

/* Replaces simavr's usleep while the firmware sleeps. */
static void sleep_hook(avr_t *a, avr_cycle_count_t how_long) {
    (void)a;
    (void)how_long;
    maybe_serve();
}

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

static unsigned long symbol(const char *symbols_file, const char *name) {
    FILE *f = fopen(symbols_file, "r");
    if (!f) return 0;
    char n[64];
    unsigned long v = 0, found = 0;
    while (fscanf(f, "%63s %lx", n, &v) == 2) {
        if (!strcmp(n, name)) found = v;
    }
    fclose(f);
    return found;
}

int main(int argc, char **argv) {
    const char *elf = NULL, *control = NULL, *symbols = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--elf")) elf = argv[i + 1];
        else if (!strcmp(argv[i], "--link")) link_path = argv[i + 1];
        else if (!strcmp(argv[i], "--control")) control = argv[i + 1];
        else if (!strcmp(argv[i], "--eeprom")) eeprom_path = argv[i + 1];
        else if (!strcmp(argv[i], "--symbols")) symbols = argv[i + 1];
        else die("unknown option %s", argv[i]);
    }
    if (!elf || !link_path || !control) {
        fprintf(stderr, "usage: dropbox-sim --elf FILE --link PATH --control SOCKET [--eeprom FILE] [--symbols FILE]\n");
        return 2;
    }
    if (symbols) {
        stats_addr = symbol(symbols, "rx_stats");
        hang_addr = symbol(symbols, "debug_hang");
    }
    for (int i = 0; i < MAX_CLIENTS; i++) clients[i] = -1;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    elf_firmware_t fw;
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(elf, &fw)) die("cannot read %s", elf);
    avr = avr_make_mcu_by_name("atmega328p");
    if (!avr) die("simavr has no atmega328p");
    avr_init(avr);
    avr_load_firmware(avr, &fw);
    avr->frequency = FREQUENCY;
    avr->vcc = avr->avcc = avr->aref = 5000;
    avr->sleep = sleep_hook;
    avr->log = 0;

    uint32_t flags = 0;
    avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
    flags &= ~(uint32_t)AVR_UART_FLAG_STDIO;
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), uart_out_hook, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('B'), 1), relay_hook, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('B'), 2), led_hook, NULL);

    listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(control) >= sizeof addr.sun_path) die("control path too long: %s", control);
    strcpy(addr.sun_path, control);
    unlink(control);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) || listen(listen_fd, 4)) die("cannot listen on %s: %s", control, strerror(errno));

    load_eeprom();
    drive_all();
    redrive_at = avr->cycle + REDRIVE_AFTER_RESET_CYCLES;
    plug();
    sync_clock();
    printf("ready %s\n", link_path);
    fflush(stdout);

    uart_in_irq = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    while (!stopping) {
        if (!powered) {
            serve(50);
            continue;
        }
        int state = avr_run(avr);
        if (state == cpu_Done || state == cpu_Crashed) {
            /* The chip stopped (or its watchdog fired): the board restarts, as on hardware. */
            avr_reset(avr);
            drive_all();
            redrive_at = avr->cycle + REDRIVE_AFTER_RESET_CYCLES;
            step_due = avr->cycle;
            next_feed_cycle = avr->cycle;
            sync_clock();
        }
        play_steps();
        if (rx_len > 0 && next_feed_cycle <= avr->cycle + RX_AHEAD_BYTES * UART_CYCLES_PER_BYTE) feed_uart();
        if (redrive_at && avr->cycle >= redrive_at) {
            redrive_at = 0;
            drive_all();
        }
        maybe_serve();
    }
    save_eeprom();
    unplug();
    unlink(control);
    return 0;
}
