/* err_port.h - serial port / transport family (100-199).  See err.h. */
#ifndef ESPFAB_ERR_PORT_H
#define ESPFAB_ERR_PORT_H
#define ESPFAB_ERR_MAP_PORT(XX) \
    XX(PORT_NOT_FOUND, 100, "serial port does not exist", "check the port name with `espfab ports`; the board may be unplugged or enumerated under another name") \
    XX(PORT_NONE_PRESENT, 101, "no USB serial device is attached", "plug the board in; if it is plugged in, the cable may be charge-only or the USB-UART driver (CP210x/CH34x/FTDI) is missing") \
    XX(PORT_PERMISSION, 102, "permission denied opening the serial port", "when the node's group can read and write it: join that group (sudo usermod -aG dialout $USER, dialout or the group named), then log in again; when it cannot (mode 600), joining will not help: install a udev rule (MODE 0660)") \
    XX(PORT_BUSY, 103, "serial port is busy", "another program holds the port (serial monitor, ModemManager, brltty); close it or stop that service") \
    XX(PORT_OPEN_FAILED, 104, "could not open the serial port", "see the errno; replug the board or try another USB port") \
    XX(PORT_CONFIG, 105, "could not configure the serial port", "the driver refused the settings (baud, 8N1); update the USB-UART driver or use a lower baud") \
    XX(PORT_VANISHED, 106, "serial port vanished", "the board was unplugged, lost power or re-enumerated (USB-JTAG-Serial after reset); check the cable and hub power") \
    XX(PORT_WRITE, 107, "write to the serial port failed", "the device stopped accepting data; replug the board, avoid unpowered hubs") \
    XX(PORT_READ, 108, "read from the serial port failed", "the device returned an error; replug the board, avoid unpowered hubs") \
    XX(PORT_NO_MODEM_LINES, 109, "port has no DTR/RTS control lines", "this port (pty or TCP) cannot reset the board; use --before none and put the board in download mode by hand") \
    XX(PORT_TCP_CONNECT, 110, "could not connect to the network serial port", "check that the serial server is running and the host:port is right") \
    XX(PORT_BAD_SPEC, 111, "bad port name", "use a device path (/dev/ttyUSB0), a by-path glob, or tcp://HOST:PORT") \
    XX(PORT_CLOSED, 112, "the other end closed the connection", "the network serial server or simulator went away; restart it") \
    XX(PORT_NOT_A_TTY, 113, "path is not a serial device", "the path exists but is not a tty; check the port name with `espfab ports`") \
    XX(PORT_BAUD_UNSUPPORTED, 114, "the serial adapter refused the baud rate", "choose a baud rate the USB-UART bridge supports (115200, 460800, 921600)") \
    XX(PORT_AMBIGUOUS, 115, "several USB serial ports: which one is meant", "give --port with one of the ports listed (or a /dev/serial/by-path name, which stays the same across replugging)")
#endif
