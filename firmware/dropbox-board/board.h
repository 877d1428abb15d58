/*
 * Pin map and compiled limits of the drop-box board (ATmega328P at 16 MHz, e.g. an
 * Arduino Nano). Inputs are active low with the internal pull-ups on: a switch or an
 * open-collector sensor pulls the pin to GND. See README.md for the wiring.
 */
#ifndef DROPBOX_BOARD_H
#define DROPBOX_BOARD_H

/* PORTD */
#define PIN_SLOT_BEAM   PD2 /* low: something in the slot (beam broken) */
#define PIN_DROP_BEAM   PD3 /* low: an envelope is falling through the chute beam */
#define PIN_DOOR        PD4 /* low: door closed (switch closed); high: open */
#define PIN_SHOCK       PD5 /* low: shock sensor tripped */
#define PIN_TILT        PD6 /* low: tilt switch tripped */
#define PIN_CASE        PD7 /* low: case opened (NC switch to the case lid opens) */
/* PORTB */
#define PIN_KEY         PB0 /* low: technician key switch on */
#define PIN_RELAY       PB1 /* high: lock relay energised, door released */
#define PIN_LED         PB2 /* high: slot light on */
/* PORTC */
#define FILL_ADC_CHANNEL 0  /* ADC0 (PC0): analog distance sensor above the bin */

#define FIRMWARE_VERSION "dbx-1.0.0"
#ifndef BOARD_ID
#define BOARD_ID "DBX-0001"
#endif

#ifndef UNLOCK_MAX_MS
#define UNLOCK_MAX_MS 60000UL /* no UNLOCK holds the relay longer */
#endif
#define HEARTBEAT_MS 1000
#define REPEAT_WINDOW_MS 10000UL /* a resent command comes within the controller's 5 attempts of 1 s */
#define DEBOUNCE_MS 20      /* switches: a level held this long is believed */
#define DROP_DEBOUNCE_MS 3  /* the chute beam: envelopes fall fast */
#define LED_BLINK_HALF_MS 500
#define FILL_SAMPLE_MS 100
#define FILL_STEP 5         /* FILL on every change of 5 points */
#define FILL_HOLD_SAMPLES 5 /* a new step must hold 0.5 s: no flapping at a boundary */
/* Sensor voltage (mV at 5 V AVCC) with the bin empty and full: nearer is higher. */
#define FILL_EMPTY_MV 500
#define FILL_FULL_MV 4500

#endif
