/* err_config.h - profile / station file family (500-599).  See err.h. */
#ifndef ESPFAB_ERR_CONFIG_H
#define ESPFAB_ERR_CONFIG_H
#define ESPFAB_ERR_MAP_CONFIG(XX) \
    XX(CONFIG_OPEN, 500, "could not open the configuration file", "check the path and permissions") \
    XX(CONFIG_SYNTAX, 501, "syntax error in the configuration file", "fix the line named in the detail (INI: [section] and key = value)") \
    XX(CONFIG_UNKNOWN_SECTION, 502, "unknown section in the configuration file", "check the spelling of the section name") \
    XX(CONFIG_UNKNOWN_KEY, 503, "unknown key in the configuration file", "check the spelling of the key; see profiles/README") \
    XX(CONFIG_BAD_VALUE, 504, "bad value in the configuration file", "use one of the values listed in the detail") \
    XX(CONFIG_MISSING_KEY, 505, "required key missing in the configuration file", "add the key named in the detail") \
    XX(CONFIG_NO_IMAGES, 506, "profile has no images", "add at least one [image NAME] section with file and offset") \
    XX(CONFIG_DUPLICATE, 507, "duplicate entry in the configuration file", "each section/key may appear once; remove the duplicate") \
    XX(CONFIG_IMPORT, 508, "could not import the build description", "the flasher_args.json is not what ESP-IDF writes; rebuild the project") \
    XX(NVS_CSV, 509, "NVS partition CSV is invalid", "fix the line named: header key,type,encoding,value; type namespace, data or file; encoding u8 i8 u16 i16 u32 i32 u64 i64 string hex2bin base64 binary; a value the encoding can hold") \
    XX(NVS_FULL, 510, "NVS partition is too small for its CSV", "give a larger partition size (a multiple of 4096), or move entries out of the CSV") \
    XX(NVS_SIZE, 511, "invalid NVS partition size", "the size must be a multiple of 4096 (0x1000) and at least 4096; 0x3000 or more for a read/write partition") \
    XX(NVS_FILE, 512, "file named by an NVS CSV line could not be read", "file paths are relative to the CSV's folder: check the path and its permissions") \
    XX(NVS_CORRUPT, 513, "NVS partition has CRC errors", "the data is damaged or not an NVS partition: check the offset and size given, or regenerate and rewrite it")
#endif
