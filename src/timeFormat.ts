// Moved to kernel/ (shared by src/ and devices/); this path stays until every branch imports kernel/timeFormat.js.
export * from '../kernel/timeFormat.js';
