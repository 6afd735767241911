//! Translations (vue-i18n). Every string a user reads comes from here; a new language is one
//! more file with the same keys as `en.ts`, added to `messages`.
import { createI18n } from 'vue-i18n'
import en from './en'

export type MessageSchema = typeof en

export const i18n = createI18n<[MessageSchema], 'en'>({
  legacy: false,
  locale: 'en',
  fallbackLocale: 'en',
  messages: { en },
})

export const LANGUAGES = [{ code: 'en', name: 'English' }] as const
