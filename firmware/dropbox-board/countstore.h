/*
 * dropCount in EEPROM, torn-write-proof and wear-levelled.
 *
 * The EEPROM is a ring of COUNT_SLOTS records {generation u32, count u32, crc u16}.
 * Every save writes the next slot with generation + 1; load takes the valid record
 * (CRC right) with the highest generation. A save cut short by a reset or power cut
 * leaves a record whose CRC fails, so the previous one stands: the count read back is
 * always the old or the new one, never a mixture. Writing round the ring spreads the
 * wear: each cell is written once every COUNT_SLOTS saves (arithmetic in README.md).
 *
 * Pure C over two byte accessors, so the host tests can cut a save at every byte.
 */
#ifndef DROPBOX_COUNTSTORE_H
#define DROPBOX_COUNTSTORE_H

#include <stdint.h>

#define COUNT_RECORD_BYTES 10
#ifndef COUNT_EEPROM_BYTES
#define COUNT_EEPROM_BYTES 1024 /* ATmega328P */
#endif
#define COUNT_SLOTS (COUNT_EEPROM_BYTES / COUNT_RECORD_BYTES)

typedef struct {
    uint8_t (*read)(uint16_t addr);
    void (*write)(uint16_t addr, uint8_t value); /* writes only when the byte differs */
} eeprom_io_t;

typedef struct {
    uint32_t generation; /* of the newest record; 0 when none */
    uint16_t slot;       /* where the newest record is */
    uint32_t count;
} countstore_t;

/* Reads the newest valid record; a blank or wholly torn EEPROM gives count 0. */
void countstore_load(countstore_t *s, const eeprom_io_t *io);
/* Writes `count` as the next record round the ring. */
void countstore_save(countstore_t *s, const eeprom_io_t *io, uint32_t count);

#endif
