// SerialPort.list() spawns udevadm, which containers lack: nothing in the tests may
// depend on it, so it answers an empty list here (zigbee-herdsman does the same).
import { vi } from 'vitest';
import { SerialPort } from 'serialport';

vi.spyOn(SerialPort, 'list').mockResolvedValue([]);
