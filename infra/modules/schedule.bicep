// The detection's schedule, declared once: the period in minutes. Everything that depends on it
// is looked up here, so the timer and the health alert cannot disagree.
//
// Azure Monitor accepts only some timings for a scheduled query rule (log search alert):
//   evaluationFrequency: 1, 5, 10, 15, 30, 45 minutes, 1 to 6 hours, 1 day;
//   windowSize: 5, 10, 15, 30, 45 minutes, 1 to 6 hours, 1 or 2 days
// (Microsoft.Insights/scheduledQueryRules, learn.microsoft.com/azure/azure-monitor/alerts/
// alerts-create-log-alert-rule). A period is offered only when an NCRONTAB can fire evenly at it.
// For each: the alert evaluates once per period (or the longest frequency below it), over the
// smallest window that covers two runs, so one late run never fires it. test/infra checks every
// row against the accepted values.

@export()
@description('Minutes between scheduled runs of the detection.')
type schedulePeriod = 5 | 10 | 15 | 30 | 60 | 120 | 180 | 240 | 360 | 720 | 1440

@export()
@description('Per schedule period: the timer (six-field NCRONTAB) and the health alert timings.')
var schedules = {
  '5': { ncrontab: '0 */5 * * * *', alertFrequencyMinutes: 5, alertWindowMinutes: 10 }
  '10': { ncrontab: '0 */10 * * * *', alertFrequencyMinutes: 10, alertWindowMinutes: 30 }
  '15': { ncrontab: '0 */15 * * * *', alertFrequencyMinutes: 15, alertWindowMinutes: 30 }
  '30': { ncrontab: '0 */30 * * * *', alertFrequencyMinutes: 30, alertWindowMinutes: 60 }
  '60': { ncrontab: '0 0 * * * *', alertFrequencyMinutes: 60, alertWindowMinutes: 120 }
  '120': { ncrontab: '0 0 */2 * * *', alertFrequencyMinutes: 120, alertWindowMinutes: 240 }
  '180': { ncrontab: '0 0 */3 * * *', alertFrequencyMinutes: 180, alertWindowMinutes: 360 }
  '240': { ncrontab: '0 0 */4 * * *', alertFrequencyMinutes: 240, alertWindowMinutes: 1440 }
  '360': { ncrontab: '0 0 */6 * * *', alertFrequencyMinutes: 360, alertWindowMinutes: 1440 }
  '720': { ncrontab: '0 0 */12 * * *', alertFrequencyMinutes: 360, alertWindowMinutes: 1440 }
  '1440': { ncrontab: '0 0 0 * * *', alertFrequencyMinutes: 1440, alertWindowMinutes: 2880 }
}
