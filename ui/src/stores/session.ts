//! Who is signed in, and their profile. The locale for numbers and dates comes from the
//! profile when it has one, else from the browser.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { Backend } from '../api'
import type { Profile, ProfileUpdate } from '../api'
import type { LogInInput, SignUpInput } from '../api/backend'

export const useSession = defineStore('session', () => {
  const profile = ref<Profile | null>(null)
  const signedIn = ref(false)
  /** Set when the session ended by itself, so the login page can say why. */
  const ended = ref(false)
  let backend: Backend | null = null

  function attach(b: Backend): void {
    backend = b
    signedIn.value = b.signedIn()
    b.onSignedOut(() => {
      signedIn.value = false
      profile.value = null
      ended.value = true
    })
  }

  function api(): Backend {
    if (!backend) throw new Error('session store used before a backend was attached')
    return backend
  }

  const locale = computed(() => {
    const fromProfile = profile.value?.locale
    if (fromProfile && isLocale(fromProfile)) return fromProfile
    // A system without a language setting reports tags Intl refuses (WebKit under "C").
    const system = typeof navigator !== 'undefined' ? navigator.language : ''
    return system && isLocale(system) ? system : 'en'
  })

  async function load(): Promise<void> {
    if (!api().signedIn()) return
    profile.value = await api().profile()
  }

  async function logIn(input: LogInInput): Promise<void> {
    profile.value = await api().logIn(input)
    signedIn.value = true
    ended.value = false
  }

  async function signUp(input: SignUpInput): Promise<void> {
    profile.value = await api().signUp(input)
    signedIn.value = true
    ended.value = false
  }

  async function logOut(): Promise<void> {
    await api().logOut()
    signedIn.value = false
    profile.value = null
  }

  async function update(u: ProfileUpdate): Promise<void> {
    profile.value = await api().updateProfile(u)
  }

  function forget(): void {
    signedIn.value = false
    profile.value = null
  }

  return { profile, signedIn, ended, locale, attach, load, logIn, signUp, logOut, update, forget }
})

export function isLocale(tag: string): boolean {
  try {
    return Intl.NumberFormat.supportedLocalesOf([tag]).length > 0
  } catch {
    return false
  }
}
