/**
 * One error vocabulary: every failure and every device fault has its own number, grouped
 * by area, and a device fault becomes `device.fault` in one place, naming the right device.
 */
import { describe, expect, it } from 'vitest';
import { SCANNER_FAULT_CODES } from '../src/machines/scannerMachine.js';
import { DeviceFault, ErrorCode, faultDevice, isDeviceFaultCode, type DeviceFaultCode } from '../kernel/errors.js';
import { PRINTER_FAULT_CODES } from '../src/machines/printerMachine.js';
import { faultEvent, recoveredEvent } from '../src/upstream/deviceFaults.js';

describe('the error vocabulary', () => {
  it('gives every error and every device fault a number of its own', () => {
    const numbers = [...Object.values(ErrorCode), ...Object.values(DeviceFault)];
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it('files each device fault in its device area (22x drop box, 26x scanner, 32x printer, 42x upstream)', () => {
    const area = { dropbox: 220, scanner: 260, printer: 320, upstream: 420 } as Record<string, number>;
    for (const [code, n] of Object.entries(DeviceFault)) {
      const base = area[faultDevice(code as DeviceFaultCode)];
      expect(base, code).toBeDefined();
      expect(n - base!, code).toBeGreaterThanOrEqual(0);
      expect(n - base!, code).toBeLessThan(10);
    }
  });

  it('knows every fault code the printer machine and the scanner driver report', () => {
    for (const code of [...Object.values(PRINTER_FAULT_CODES), ...Object.values(SCANNER_FAULT_CODES)]) expect(isDeviceFaultCode(code), code).toBe(true);
    expect(isDeviceFaultCode('printer.on_fire')).toBe(false);
  });

  it('turns a fault into device.fault and device.recovered naming the device of its prefix', () => {
    expect(faultEvent('dropbox.offline', 'no frame for 3 s')).toEqual({ type: 'device.fault', data: { device: 'dropbox', code: 'dropbox.offline', detail: 'no frame for 3 s' } });
    expect(recoveredEvent('printer.paper_out')).toEqual({ type: 'device.recovered', data: { device: 'printer', code: 'printer.paper_out' } });
    expect(faultEvent('upstream.disconnected', 'x').data.device).toBe('upstream');
    expect(faultEvent('scanner.disconnected', 'x').data.device).toBe('scanner');
  });
});
