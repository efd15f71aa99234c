/* err_image.h - firmware image and region family (400-499).  See err.h. */
#ifndef ESPFAB_ERR_IMAGE_H
#define ESPFAB_ERR_IMAGE_H
#define ESPFAB_ERR_MAP_IMAGE(XX) \
    XX(IMAGE_MISSING, 400, "image file not found", "check the file path (relative paths in a profile are relative to the profile)") \
    XX(IMAGE_EMPTY, 401, "image file is empty", "the build or download produced an empty file; rebuild it") \
    XX(IMAGE_READ, 402, "could not read the image file", "check the file permissions") \
    XX(IMAGE_WRONG_CHIP, 403, "image was built for another chip", "use the firmware built for this chip (or --force if you really mean it)") \
    XX(IMAGE_BAD_HEADER, 404, "image header is invalid", "the file is truncated or not an ESP image; rebuild or re-download it") \
    XX(IMAGE_CHECKSUM, 405, "image checksum is wrong", "the file is corrupted or truncated; rebuild or re-download it") \
    XX(IMAGE_SHA256, 406, "image SHA-256 digest is wrong", "the file is corrupted or was modified; rebuild or re-download it") \
    XX(IMAGE_REVISION, 407, "image does not support this chip revision", "the build targets another silicon revision; rebuild with a matching minimum revision") \
    XX(REGION_OVERLAP, 408, "two images overlap in flash", "fix the offsets so that the regions do not overlap") \
    XX(REGION_PAST_FLASH, 409, "image extends past the end of flash", "use a smaller image or a larger flash size") \
    XX(REGION_UNALIGNED, 410, "image offset is not aligned", "flash offsets must be multiples of 4096 (0x1000)") \
    XX(IMAGE_TOO_BIG, 411, "image file is too large", "the file is larger than any supported flash (256 MiB)") \
    XX(FLASH_PARAM, 412, "invalid flash mode, frequency or size", "use one of the values listed for this chip (qio/qout/dio/dout, 40m/80m..., 2MB/4MB...)") \
    XX(IMAGE_ELF, 413, "file is an ELF, not a flashable image", "flash the .bin the build made from it (idf.py writes build/<project>.bin; for your own ELF run `esptool elf2image`)") \
    XX(IMAGE_NOT_IMAGE, 414, "raw data where the chip expects a firmware image", "the bootloader offset and app partitions must hold an ESP image built for this chip: check the file and its offset (data files go in data partitions)") \
    XX(IMAGE_UNDECLARED_DATA, 415, "raw data the profile does not declare", "if the file is data (NVS, SPIFFS, FAT, PHY init...), add 'kind = data' to its [image NAME] section, or flash it together with the partition table that gives it a data partition") \
    XX(PARTITION_TABLE_BAD, 416, "partition table is invalid", "the file starts like an ESP-IDF partition table but its entries or MD5 do not hold together; rebuild it (idf.py partition-table)") \
    XX(PARTITION_MISFIT, 417, "image does not fit the partition table", "the region runs past its partition or into another one: fix the offset, the image size or the partition table") \
    XX(PARTITION_PAST_FLASH, 418, "partition table does not fit the flash", "a partition ends past the end of the flash: use a partition table made for this flash size, or boards with larger flash") \
    XX(IMAGE_BOOT_OFFSET, 419, "bootloader image at the wrong offset", "each chip boots from one offset (0x1000 ESP32/ESP32-S2, 0x0 ESP32-S3/C2/C3/C6/H2 and ESP8266, 0x2000 ESP32-P4): put the bootloader there") \
    XX(IMAGE_NOT_FILE, 420, "image is not a regular file", "give a regular file, not a FIFO, device or socket (copy the data to a file first)") \
    XX(IMAGE_ENCRYPTED, 421, "the build asks for encrypted flash writes", "espfab does not write encrypted images yet: flash this build with esptool (--encrypt), or build it without flash encryption")
#endif
