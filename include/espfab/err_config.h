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
    XX(CONFIG_IMPORT, 508, "could not import the build description", "the flasher_args.json is not what ESP-IDF writes; rebuild the project")
#endif
