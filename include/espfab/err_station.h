/* err_station.h - station / run family (700-799).  See err.h. */
#ifndef ESPFAB_ERR_STATION_H
#define ESPFAB_ERR_STATION_H
#define ESPFAB_ERR_MAP_STATION(XX) \
    XX(STATION_NO_PORTS, 700, "no ports to flash", "list ports in the station file or with --ports, or plug boards in") \
    XX(STATION_ABORTED, 701, "run aborted by a second interrupt", "in-flight boards were recorded as interrupted; flash them again") \
    XX(CONSOLE_NO_TTY, 702, "the operator console needs a terminal", "run espfab in a terminal, or choose --log json or --log text") \
    XX(ALREADY_PASSED, 703, "this board has just passed in this slot", "remove it: espfab does not flash the same board twice in a row in continuous mode (a chip's own USB port comes back after its reset)")
#endif
