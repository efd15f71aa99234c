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
    XX(FLASH_PARAM, 412, "invalid flash mode, frequency or size", "use one of the values listed for this chip (qio/qout/dio/dout, 40m/80m..., 2MB/4MB...)")
#endif
