/* err_session.h - bootloader session family (300-399).  See err.h. */
#ifndef ESPFAB_ERR_SESSION_H
#define ESPFAB_ERR_SESSION_H
#define ESPFAB_ERR_MAP_SESSION(XX) \
    XX(NO_SERIAL_DATA, 300, "no serial data received from the board", "the board is silent: check power, RX/TX wiring (swapped?), the reset circuit, and that this is the right port") \
    XX(WRONG_BOOT_MODE, 301, "the board booted its application instead of the download mode", "the auto-reset circuit did not pull the boot pin low: add 1-10 uF from EN to GND or hold BOOT while resetting") \
    XX(NO_SYNC_REPLY, 302, "download mode detected but the loader never answered SYNC", "the host-to-board TX path is broken: check the TX wire/level shifter and the bridge") \
    XX(SYNC_FAILED, 303, "could not synchronise with the loader", "only noise came back: check the cable, the baud rate and the board's power") \
    XX(TIMEOUT, 304, "the loader stopped answering", "the board reset, lost power or the link dropped; check power (500 mA peaks) and the cable") \
    XX(CHIP_UNKNOWN, 305, "unknown chip", "the chip answered with an unknown identity; update espfab or pass --chip") \
    XX(CHIP_MISMATCH, 306, "wrong chip on the port", "the board's chip differs from the profile; use the profile for this chip or check the board") \
    XX(STUB_NOT_FOUND, 307, "flasher stub file not found", "run tools/setup.sh to install the stubs, set ESPFAB_STUB_DIR / --stub-dir, or use --no-stub") \
    XX(STUB_NO_OHAI, 308, "flasher stub did not start", "the stub upload did not run; retry, or use --no-stub") \
    XX(BAUD_CHANGE_FAILED, 309, "the link failed after changing the baud rate", "the USB-UART bridge cannot do this baud; use a lower --baud") \
    XX(LINK_UNRELIABLE, 310, "unreliable serial link", "too many corrupted or lost replies: lower the baud or change the cable/hub") \
    XX(FLASH_ID_FAILED, 311, "could not read the flash chip id", "the SPI flash does not answer: check the flash chip, its power and the strapping pins") \
    XX(MD5_MISMATCH, 312, "flash contents differ from the image after writing", "failing flash or unstable power: do not ship this board; erase and reflash, then replace the flash/module") \
    XX(FLASH_WRITE_ERROR, 313, "the flash write failed", "failing flash or power: check the 3.3 V supply, then replace the module") \
    XX(FLASH_READ_ERROR, 314, "the flash read failed", "failing flash or power: check the 3.3 V supply, then replace the module") \
    XX(INFLATE_ERROR, 315, "the board could not decompress the data", "data was corrupted on the line; lower the baud or use --no-compress") \
    XX(DATA_CHECKSUM, 316, "the board received corrupted data", "noise on the line; lower the baud or change the cable/hub") \
    XX(ERASE_TIMEOUT, 317, "flash erase or write took longer than allowed", "slow or failing flash; retry, then replace the flash/module") \
    XX(REVISION_OUT_OF_RANGE, 318, "chip revision outside the allowed range", "this silicon revision is not allowed by the profile or the image; use a matching build") \
    XX(FLASH_TOO_SMALL, 319, "the image does not fit the flash", "the board's flash is smaller than the profile needs; use a board with more flash or a smaller image") \
    XX(SECURE_DOWNLOAD, 320, "the chip is in secure download mode", "secure download mode forbids this operation; use a profile that only writes flash, or a board without SDM") \
    XX(STUB_BAD, 321, "flasher stub file is invalid", "the stub JSON is corrupt; reinstall it with tools/setup.sh") \
    XX(VERIFY_FAILED, 322, "could not verify the written flash", "the MD5 read-back failed; retry, check power and the link") \
    XX(UNVERIFIABLE, 323, "written, but this loader cannot verify it", "flash with the stub (the ESP8266 ROM has no MD5), or accept unverified writes with --no-verify / verify = no (secure download mode forbids MD5)") \
    XX(BOARD_RESET, 324, "the board reset itself during the session", "read the reset cause in the message: a watchdog over the chip's own USB needs espfab to know the port is USB-Serial/JTAG (USB id 303a:1001, --before usb-jtag or --usb-id); a brownout needs a stronger 3.3 V supply") \
    XX(FLASH_DIFFERS, 325, "the flash differs from the file", "the board holds other bytes than this file at this offset (nothing was written): check OFFSET and FILE, or flash the file with espfab flash")
#endif
