#!/usr/bin/env bash
# normal_boot.sh - the board boots its application instead of the download
# mode (ESP32 "boot:0x13 (SPI_FAST_FLASH_BOOT)", ESP8266 "boot mode:(3,6)"):
# the auto-reset circuit / EN capacitor / BOOT button.  WRONG_BOOT_MODE,
# quoting the boot line; the other boards pass.
. "$(dirname "$0")/lib.sh"
start_sim esp32:3,esp8266:1 --fault 1:normal-boot --fault 3:normal-boot
profile p esp32
fw=$(image esp32)
fw8=$(image esp8266)

flash_expect "ESP32 normal boot" 1 WRONG_BOOT_MODE "${TCP[1]}|boot:0x13|SPI_FAST_FLASH_BOOT|after 7 attempts|EN to GND" \
    -- --port "${TCP[1]}" 0x1000 "$fw"
flash_expect "ESP8266 normal boot" 1 WRONG_BOOT_MODE "${PTY[3]}|printed \"ets Jan|boot mode:(3,6)|hold BOOT" \
    -- --port "${PTY[3]}" 0x0 "$fw8"

run_boards normal p "${TCP[0]}" "${TCP[1]}" "${TCP[2]}"
expect_run_rc 1
expect_run_pass "${TCP[0]}"
expect_run_pass "${TCP[2]}"
expect_run_fail "ESP32 normal boot" "${TCP[1]}" WRONG_BOOT_MODE "boot:0x13|after 7 attempts" ""
finish
