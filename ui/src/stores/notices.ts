//! Short messages at the bottom of the screen ("Deleted … Undo"), each with an optional action.
import { defineStore } from 'pinia'
import { ref } from 'vue'

export interface Notice {
  id: number
  text: string
  tone: 'info' | 'success' | 'error'
  action?: { label: string; run: () => void | Promise<void> }
}

export const useNotices = defineStore('notices', () => {
  const items = ref<Notice[]>([])
  let next = 1

  function show(text: string, tone: Notice['tone'] = 'info', action?: Notice['action'], ms = action ? 10_000 : 4000): number {
    const id = next++
    items.value.push({ id, text, tone, action })
    if (items.value.length > 2) items.value.shift()
    if (ms > 0) setTimeout(() => dismiss(id), ms)
    return id
  }

  function dismiss(id: number): void {
    items.value = items.value.filter((n) => n.id !== id)
  }

  return { items, show, dismiss }
})
