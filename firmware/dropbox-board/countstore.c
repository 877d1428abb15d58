/* See countstore.h. */
#include "countstore.h"
#include "protocol.h"

static void encode(uint8_t rec[COUNT_RECORD_BYTES], uint32_t generation, uint32_t count) {
    for (uint8_t i = 0; i < 4; i++) rec[i] = (uint8_t)(generation >> (8 * i));
    for (uint8_t i = 0; i < 4; i++) rec[4 + i] = (uint8_t)(count >> (8 * i));
    uint16_t crc = proto_crc16((const char *)rec, 8);
    rec[8] = (uint8_t)crc;
    rec[9] = (uint8_t)(crc >> 8);
}

void countstore_load(countstore_t *s, const eeprom_io_t *io) {
    s->generation = 0;
    s->slot = COUNT_SLOTS - 1; /* so the first save goes to slot 0 */
    s->count = 0;
    for (uint16_t slot = 0; slot < COUNT_SLOTS; slot++) {
        uint8_t rec[COUNT_RECORD_BYTES];
        for (uint8_t i = 0; i < COUNT_RECORD_BYTES; i++) rec[i] = io->read((uint16_t)(slot * COUNT_RECORD_BYTES + i));
        uint16_t crc = (uint16_t)(rec[8] | (rec[9] << 8));
        if (proto_crc16((const char *)rec, 8) != crc) continue;
        uint32_t generation = 0, count = 0;
        for (uint8_t i = 0; i < 4; i++) generation |= (uint32_t)rec[i] << (8 * i);
        for (uint8_t i = 0; i < 4; i++) count |= (uint32_t)rec[4 + i] << (8 * i);
        /* Erased EEPROM reads 0xFF: generation 0xFFFFFFFF is never written. */
        if (generation == 0xFFFFFFFFUL || generation <= s->generation) continue;
        s->generation = generation;
        s->slot = slot;
        s->count = count;
    }
}

void countstore_save(countstore_t *s, const eeprom_io_t *io, uint32_t count) {
    uint16_t slot = (uint16_t)((s->slot + 1) % COUNT_SLOTS);
    uint8_t rec[COUNT_RECORD_BYTES];
    encode(rec, s->generation + 1, count);
    /* Generation bytes last: until they are written the slot holds its old, lower
     * generation or a CRC that fails, so a cut here leaves the previous record newest. */
    for (uint8_t i = 4; i < COUNT_RECORD_BYTES; i++) io->write((uint16_t)(slot * COUNT_RECORD_BYTES + i), rec[i]);
    for (uint8_t i = 0; i < 4; i++) io->write((uint16_t)(slot * COUNT_RECORD_BYTES + i), rec[i]);
    s->generation++;
    s->slot = slot;
    s->count = count;
}
