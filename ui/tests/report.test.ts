// What a report's figures mean on screen: good or bad changes, bar widths, paper.
import { describe, expect, it } from 'vitest'
import { barWidths, changeOf, defaultPaper, linesOf } from '../src/lib/report'
import type { ReportLine } from '../src/api/types'

describe('changes against the previous period', () => {
  it('is good news when income or net go up, bad when expenses do', () => {
    expect(changeOf('income', '12.5')).toEqual({ direction: 'up', tone: 'good', percent: '12.5' })
    expect(changeOf('income', '-3.0')).toEqual({ direction: 'down', tone: 'bad', percent: '3.0' })
    expect(changeOf('expense', '40.0')).toEqual({ direction: 'up', tone: 'bad', percent: '40.0' })
    expect(changeOf('expense', '-0.1')).toEqual({ direction: 'down', tone: 'good', percent: '0.1' })
    expect(changeOf('net', '250.0')).toEqual({ direction: 'up', tone: 'good', percent: '250.0' })
    expect(changeOf('net', '0.0')).toEqual({ direction: 'same', tone: 'neutral', percent: '0' })
  })

  it('has nothing to say when the previous figure was zero', () => {
    expect(changeOf('income', null)).toBeNull()
    expect(changeOf('expense', undefined)).toBeNull()
  })
})

describe('breakdowns', () => {
  const line = (total: string, kind: ReportLine['kind'] = 'expense'): ReportLine => ({ key: total, name: total, kind, total, count: 1, percent: '0' })

  it('draws bars against the largest line, a sliver for the smallest', () => {
    expect(barWidths([line('1234.56'), line('617.28'), line('0.01'), line('0.00')])).toEqual([100, 50, 1, 0])
    expect(barWidths([])).toEqual([])
  })

  it('splits lines by kind', () => {
    const lines = [line('1'), line('2', 'income'), line('3')]
    expect(linesOf(lines, 'expense').map((l) => l.total)).toEqual(['1', '3'])
  })
})

describe('paper', () => {
  it('is Letter in North America, A4 elsewhere', () => {
    expect(defaultPaper('en-US')).toBe('letter')
    expect(defaultPaper('fr-CA')).toBe('letter')
    expect(defaultPaper('en-GB')).toBe('a4')
    expect(defaultPaper('de')).toBe('a4')
    expect(defaultPaper('not a locale')).toBe('a4')
  })
})
